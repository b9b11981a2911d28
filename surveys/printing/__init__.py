"""Printed reports: results laid out on paper (fpdf2), with charts drawn for print (matplotlib)."""
