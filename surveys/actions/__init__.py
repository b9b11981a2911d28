"""From results to action: action plans (plans.py), made and changed by managers for their own
departments and by administrators for any."""
