"""Pieces of the survey page: widgets and text blocks, with no survey logic of their own.

Instrument wording and organisation names are written by administrators, not respondents,
but they still pass through `escape_markdown` so that a stray `*` or `#` shows as itself.
Respondents' own text (the comment) is only ever shown with `st.text`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from surveys.survey.form import AnswerValue, Question, Step, SurveyForm
from surveys.survey.submit import InvalidSubmission, over_limit
from surveys.text import escape_markdown

COMMENT_KEY = "survey_comment"
DEPARTMENT_KEY = "survey_department"
GROUP_KEY = "survey_group"
# The app's one script, vetted and constant (tests/test_security_config.py holds its text):
# Streamlit keeps the scroll position across reruns, so a new step would open where the
# last one ended, its heading off-screen.
SCROLL_TO_TOP = (
    "<script>document.querySelector('[data-testid=\"stMain\"]')?.scrollTo({top: 0});</script>"
)


def quiet(text: str) -> None:
    """Secondary text. Not `st.caption`: its faded colour falls short of WCAG AA contrast
    with our theme, while the palette's gray passes."""
    st.markdown(f":small[:gray[{escape_markdown(text)}]]")


def answer_key(code: str) -> str:
    """The widget key that holds the answer to one question, by its item code."""
    return f"answer:{code}"


def question(item: Question) -> None:
    """One question as a radio group, nothing pre-selected; the answer survives other steps."""
    text = f"{item.number}. {item.text}"
    if item.horizontal:
        # Eleven numbers fit in a row or two; the two ends say what they mean.
        low, high = (label.replace(" – ", " = ") for label in (item.labels[0], item.labels[-1]))
        text = f"{text} ({low}, {high})"

    def option_label(value: AnswerValue) -> str:
        return (
            str(value) if item.horizontal else escape_markdown(item.label_for(value), block=False)
        )

    st.radio(
        f"**{escape_markdown(text, block=False)}**",
        item.options(),
        index=None,
        format_func=option_label,
        key=answer_key(item.code),
        horizontal=item.horizontal,
        persist_state="page",
    )


def comment_box(form: SurveyForm, over_the_limit: str | None = None) -> None:
    """The comment, with no `max_chars`: the browser drops a paste that would go over it,
    leaving the box empty. The limit is checked on Next and at Submit instead."""
    # Above the box, so it is read before writing (surveys.text.scrub_personal_details).
    quiet(
        "Before your comment is stored, email addresses, phone numbers and names after a title "
        "(Dr, Nurse, Mr, Ms and so on) are replaced with [email], [phone] and [name]."
    )
    st.text_area(
        f"**{escape_markdown(form.comment_prompt, block=False)}**",
        key=COMMENT_KEY,
        height=140,
        persist_state="page",
    )
    quiet(f"{form.comment_help} Up to {form.comment_max_length:,} characters.".strip())
    if over_the_limit:
        st.error(
            f"Your comment is {over_the_limit}. Please shorten it. "
            "Your text is still in the box; nothing counts until you submit.",
            icon=":material/error:",
        )


def unanswered_notice(questions: Sequence[Question]) -> None:
    """Which questions of this step have no answer, by the number shown before each."""
    numbers = [str(question.number) for question in questions]
    listed = numbers[0] if len(numbers) == 1 else f"{', '.join(numbers[:-1])} and {numbers[-1]}"
    st.warning(
        f"**Not answered yet: question{'s' if len(numbers) > 1 else ''} {listed}.**  \n"
        "You can answer now and press Next, or continue without answering. "
        "Before you submit, the last page lists anything still unanswered.",
        icon=":material/help:",
    )


def scroll_to_top(step: int) -> None:
    """Open `step` at its heading. The container's key changes with the step, so the browser
    runs the script once per step shown, not again on each rerun of the same step."""
    with st.container(key=f"survey-top-{step}"):
        st.html(SCROLL_TO_TOP, unsafe_allow_javascript=True)


def workplace_pickers(form: SurveyForm) -> None:
    """For an open link: the respondent says where they work."""
    department_names = {choice.id: choice.name for choice in form.departments}
    group_names = {choice.id: choice.name for choice in form.staff_groups}
    st.selectbox(
        "Your department",
        list(department_names),
        index=None,
        format_func=lambda choice: department_names[choice],
        placeholder="Choose your department",
        key=DEPARTMENT_KEY,
        persist_state="page",
    )
    st.selectbox(
        "Your staff group",
        list(group_names),
        index=None,
        format_func=lambda choice: group_names[choice],
        placeholder="Choose your staff group",
        key=GROUP_KEY,
        persist_state="page",
    )


def fixed_workplace(form: SurveyForm) -> None:
    """For a personal link: where the answers will count, taken from the link."""
    with st.container(border=True):
        st.markdown(
            f"**Survey:** {escape_markdown(form.cycle_name)}  \n"
            f"**Department:** {escape_markdown(form.department or '')}  \n"
            f"**Staff group:** {escape_markdown(form.staff_group or '')}"
        )
        quiet(
            "These come from your link and cannot be changed. If they are wrong, please do not "
            "answer: ask whoever sent you the link for the right one."
        )


def privacy_statement(form: SurveyForm) -> None:
    st.header("Your answers are anonymous", anchor=False)
    stored, never = st.columns(2, gap="medium")
    opens_them = "this page's address, once you start," if form.is_open_link else "your link"
    kept = (
        f"- until you submit, your answers so far, locked so that only {opens_them} opens them\n"
        if form.keeps_drafts
        else ""
    )
    with stored:
        st.markdown(
            "**What we store**\n"
            "- your answers\n"
            "- your comment, if you write one, exactly as written\n"
            "- the survey, your department and your staff group\n"
            f"{kept}"
        )
    link = (
        "- anything about your link: it is the same for everyone\n"
        if form.is_open_link
        else "- which link you used: we only note that your link has been used, "
        "never which answers came from it\n"
    )
    with never:
        st.markdown(
            "**What we never store**\n"
            "- your name, email or anything else about who you are\n"
            f"{link}"
            "- your IP address, device or browser\n"
            "- when you answered, beyond which survey it was"
        )
    st.markdown(
        f"Results are only ever shown for groups of **at least {form.min_group_size} people**, "
        f"and comments only for groups of at least {form.min_comment_group_size}. "
        "Comments are read as written, so please leave out names and anything that could "
        "identify you or someone else."
    )


def until_submitted(form: SurveyForm) -> str:
    """What happens to the answers before Submit, said on the review."""
    if not form.keeps_drafts:
        return "Nothing is saved until you press Submit. You can still change any answer."
    where = "this page's address" if form.is_open_link else "your link"
    return (
        "Your answers count only once you press Submit. Until then they are kept, locked, so "
        f"that {where} brings them back if you leave. You can still change any answer."
    )


def context_caption(form: SurveyForm, department: str | None, group: str | None) -> None:
    parts = [form.cycle_name, department, group]
    quiet(" · ".join(part for part in parts if part))


def progress(position: int, total: int) -> None:
    st.progress(position / total, text=f"Step {position} of {total}")


def step_heading(step: Step) -> None:
    st.header(escape_markdown(step.title), anchor=False)
    if step.intro:
        quiet(step.intro)


def review_answers(
    form: SurveyForm,
    answers: dict[str, AnswerValue | None],
    on_change_step: Callable[[int], None],
) -> None:
    """Every answer, one expander per step, with a way back to change them."""
    for step in form.steps:
        answered = sum(answers.get(q.code) is not None for q in step.questions)
        total = len(step.questions)
        complete = answered == total
        title = escape_markdown(step.title, block=False)
        label = f"Step {step.number} · {title} · {answered} of {total} answered"
        with st.expander(label, icon=":material/check_circle:" if complete else ":material/error:"):
            lines = []
            for item in step.questions:
                value = answers.get(item.code)
                shown = (
                    "*Not answered*" if value is None else escape_markdown(item.label_for(value))
                )
                lines.append(f"{item.number}\\. {escape_markdown(item.text)}  \n**{shown}**")
            st.markdown("\n\n".join(lines))
            st.button(
                "Change these answers",
                key=f"change-{step.number}",
                on_click=on_change_step,
                args=(step.number,),
                icon=":material/edit:",
            )


def review_comment(comment: str) -> None:
    st.markdown("**Your comment**")
    if comment.strip():
        # The respondent's own words: shown as plain text, never as Markdown or HTML.
        st.text(comment)
    else:
        quiet("No comment.")


def submission_problems(problem: InvalidSubmission, form: SurveyForm) -> None:
    """Why the form was not stored, by step and question, in words a respondent can act on."""
    lines = []
    if problem.workplace_problem:
        lines.append(escape_markdown(problem.workplace_problem))
    if problem.missing:
        lines.append("Please answer these questions before you submit:")
        by_step: dict[tuple[int, str], list[str]] = {}
        for missing in problem.missing:
            by_step.setdefault((missing.step_number, missing.step_title), []).append(
                f"question {missing.question_number}: {escape_markdown(missing.question_text)}"
            )
        for (number, title), questions in by_step.items():
            lines.append(f"- **Step {number}, {escape_markdown(title)}**")
            lines.extend(f"    - {text}" for text in questions)
    if problem.comment_length is not None and problem.comment_limit is not None:
        lines.append(
            f"Your comment is {over_limit(problem.comment_length, problem.comment_limit)}. "
            "Your text is kept: press Back to shorten it."
        )
    st.error("\n".join(lines), icon=":material/error:")
