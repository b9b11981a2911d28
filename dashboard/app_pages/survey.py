"""The staff survey, reached only through a link: no sign-in, the token is the access.

Steps: a privacy statement (and, for an open link, where the respondent works), one page per
group of questions, a review, then a thank-you. Answers live in widget state kept across
steps; at each step they are also kept as a draft encrypted with the link
(`surveys.survey.drafts`), which the same link brings back after a reload or a lost
connection. Nothing counts until `submit_survey` succeeds.
"""

from __future__ import annotations

import secrets

import streamlit as st

from dashboard import PAGE_ICON, resources
from dashboard import survey_form as ui
from surveys.survey.drafts import (
    RESUME_PARAMETER,
    Draft,
    DraftNotSaved,
    is_resume_key,
    load_draft,
    new_resume_key,
    save_draft,
)
from surveys.survey.form import AnswerValue, Step, SurveyForm, SurveyUnavailable, load_survey
from surveys.survey.submit import (
    InvalidAnswer,
    InvalidSubmission,
    SubmissionFailed,
    comment_over_limit,
    submit_survey,
)
from surveys.text import escape_markdown

st.set_page_config(page_title="Staff survey · Attune", page_icon=PAGE_ICON, layout="centered")

LINK_KEY = "survey_link"
FORM = "survey_form"
STEP = "survey_step"
SUBMISSION_KEY = "survey_submission_key"
PROBLEM = "survey_problem"
FAILURE = "survey_failure"
UNAVAILABLE = "survey_unavailable"
DONE = "survey_done"
# The step whose Next found something to say: unanswered questions, a comment too long.
CHECKED = "survey_checked_step"
# An open link's resume key (in the address), and what became of the draft.
RESUME = "survey_resume_key"
RESTORED = "survey_restored"
DRAFT_FAILED = "survey_draft_failed"

token = st.query_params.get("token", "")
if st.session_state.get(LINK_KEY) != token:
    # A different link in the same browser session starts from nothing.
    for key in list(st.session_state):
        del st.session_state[key]
    st.session_state[LINK_KEY] = token
    st.session_state[STEP] = 0
    # Random per form: sending the same form twice stores it once.
    st.session_state[SUBMISSION_KEY] = secrets.token_urlsafe(32)
    resume = st.query_params.get(RESUME_PARAMETER)
    st.session_state[RESUME] = resume if is_resume_key(resume) else None


def show_unavailable(message: str) -> None:
    st.title("Staff survey", anchor=False)
    st.error(message, icon=":material/link_off:")
    st.stop()


if st.session_state.get(DONE):
    st.title("Thank you", anchor=False)
    st.success("Your answers have been saved anonymously.", icon=":material/check_circle:")
    st.markdown(
        "They will be combined with your colleagues' answers and shown only for groups large "
        "enough that no one can be picked out. You can close this page now."
    )
    st.stop()
if st.session_state.get(UNAVAILABLE):
    show_unavailable(st.session_state[UNAVAILABLE])


def restore(draft: Draft) -> None:
    """Put a kept draft back into the widgets' state, before any widget is drawn."""
    for code, value in draft.answers.items():
        st.session_state[ui.answer_key(code)] = value
    if draft.comment:
        st.session_state[ui.COMMENT_KEY] = draft.comment
    if draft.department_id is not None:
        st.session_state[ui.DEPARTMENT_KEY] = draft.department_id
        st.session_state[ui.GROUP_KEY] = draft.staff_group_id
    st.session_state[STEP] = draft.step
    st.session_state[RESTORED] = bool(draft.answers or draft.comment)


if FORM not in st.session_state:
    try:
        st.session_state[FORM] = load_survey(engine=resources.engine(), token=token)
    except SurveyUnavailable as unavailable:
        show_unavailable(str(unavailable))
    kept = load_draft(
        engine=resources.engine(),
        token=token,
        resume_key=st.session_state[RESUME],
        form=st.session_state[FORM],
    )
    if kept is not None:
        restore(kept)
form: SurveyForm = st.session_state[FORM]
last_step = len(form.steps)
review_step = last_step + 1


def current_answers() -> dict[str, AnswerValue | None]:
    return {
        item.code: st.session_state.get(ui.answer_key(item.code)) for _, item in form.questions()
    }


def keep_draft() -> None:
    """Keep the answers so far, encrypted with the link; a failure only says so, quietly."""
    if not form.keeps_drafts:
        return
    answers = {code: value for code, value in current_answers().items() if value is not None}
    draft = Draft(
        step=st.session_state[STEP],
        answers=answers,
        comment=st.session_state.get(ui.COMMENT_KEY) or "",
        department_id=st.session_state.get(ui.DEPARTMENT_KEY),
        staff_group_id=st.session_state.get(ui.GROUP_KEY),
    )
    try:
        save_draft(
            engine=resources.engine(),
            token=token,
            draft=draft,
            resume_key=st.session_state.get(RESUME),
        )
    except DraftNotSaved:
        st.session_state[DRAFT_FAILED] = True
    else:
        st.session_state.pop(DRAFT_FAILED, None)


def go_to(step: int) -> None:
    st.session_state.pop(CHECKED, None)
    st.session_state.pop(PROBLEM, None)
    st.session_state.pop(FAILURE, None)
    st.session_state.pop(RESTORED, None)
    st.session_state[STEP] = step
    keep_draft()


def comment_problem(step: Step) -> str | None:
    return (
        comment_over_limit(form, st.session_state.get(ui.COMMENT_KEY)) if step.has_comment else None
    )


def next_from(number: int, anyway: bool) -> None:
    """Move on, unless the step has unanswered questions (and the respondent has not chosen
    to continue anyway) or a comment over the limit, which can never be sent."""
    current = form.steps[number - 1]
    if comment_problem(current) or (not anyway and current.unanswered(current_answers())):
        st.session_state[CHECKED] = number
        keep_draft()
        return
    go_to(number + 1)


def start() -> None:
    if form.is_open_link and (
        st.session_state.get(ui.DEPARTMENT_KEY) is None
        or st.session_state.get(ui.GROUP_KEY) is None
    ):
        st.session_state[PROBLEM] = InvalidSubmission(
            workplace_problem="Choose your department and your staff group to begin."
        )
        return
    if form.is_open_link and form.keeps_drafts and st.session_state.get(RESUME) is None:
        # The open link is everyone's: this respondent's own key goes into the address, so
        # that a reload, or the address kept, brings their answers back.
        st.session_state[RESUME] = new_resume_key()
        st.query_params[RESUME_PARAMETER] = st.session_state[RESUME]
    go_to(1)


def submit() -> None:
    if st.session_state.get(DONE) or st.session_state.get(STEP) != review_step:
        return  # a second click on a form already sent
    st.session_state.pop(PROBLEM, None)
    st.session_state.pop(FAILURE, None)
    try:
        submit_survey(
            engine=resources.engine(),
            token=token,
            submission_key=st.session_state[SUBMISSION_KEY],
            answers=current_answers(),
            comment=st.session_state.get(ui.COMMENT_KEY),
            department_id=st.session_state.get(ui.DEPARTMENT_KEY),
            staff_group_id=st.session_state.get(ui.GROUP_KEY),
            resume_key=st.session_state.get(RESUME),
        )
    except InvalidSubmission as problem:
        st.session_state[PROBLEM] = problem
    except (SubmissionFailed, InvalidAnswer) as failure:
        st.session_state[FAILURE] = str(failure)
    except SurveyUnavailable as problem:
        st.session_state[UNAVAILABLE] = str(problem)
    else:
        # Nothing of the answers stays in memory once they are stored (think of ward PCs).
        for key in list(st.session_state):
            if key != LINK_KEY:
                del st.session_state[key]
        st.session_state[DONE] = True
        # Its draft is gone with the submission; the address no longer needs the key.
        st.query_params.pop(RESUME_PARAMETER, None)


def chosen_workplace() -> tuple[str | None, str | None]:
    if not form.is_open_link:
        return form.department, form.staff_group
    # Keyed by id or None: nothing chosen yet reads as None from the session state.
    departments: dict[int | None, str] = {choice.id: choice.name for choice in form.departments}
    groups: dict[int | None, str] = {choice.id: choice.name for choice in form.staff_groups}
    return (
        departments.get(st.session_state.get(ui.DEPARTMENT_KEY)),
        groups.get(st.session_state.get(ui.GROUP_KEY)),
    )


step = st.session_state[STEP]
problem: InvalidSubmission | None = st.session_state.get(PROBLEM)


def draft_notes() -> None:
    if st.session_state.get(RESTORED):
        st.info("Your earlier answers are back.", icon=":material/history:")
    if st.session_state.get(DRAFT_FAILED):
        ui.quiet(
            "Your answers so far could not be kept on the server just now. They are still "
            "here; keep this page open until you submit."
        )


if step == 0:
    st.title(escape_markdown(form.title), anchor=False)
    st.markdown(escape_markdown(form.intro))
    with st.form("survey-start", border=False, enter_to_submit=False):
        if form.is_open_link:
            st.header("Where you work", anchor=False)
            ui.quiet(f"Survey: {form.cycle_name}")
            ui.workplace_pickers(form)
        else:
            ui.fixed_workplace(form)
        draft_notes()
        ui.privacy_statement(form)
        st.markdown(
            f"{len(form.questions())} questions on {last_step} short pages, "
            "then a check before you send."
        )
        if problem is not None:
            ui.submission_problems(problem, form)
        st.form_submit_button(
            "Start the survey", type="primary", key="start", on_click=start,
            icon=":material/arrow_forward:", icon_position="right",
        )  # fmt: skip

elif step <= last_step:
    current = form.steps[step - 1]
    ui.context_caption(form, *chosen_workplace())
    ui.progress(step, review_step)
    ui.step_heading(current)
    draft_notes()
    with st.form(f"survey-step-{step}", border=False, enter_to_submit=False):
        checked = st.session_state.get(CHECKED) == step
        for item in current.questions:
            ui.question(item)
        if current.has_comment:
            ui.comment_box(form, comment_problem(current) if checked else None)
        unanswered = current.unanswered(current_answers()) if checked else ()
        if unanswered:
            ui.unanswered_notice(unanswered)
        with st.container(horizontal=True, horizontal_alignment="distribute"):
            st.form_submit_button(
                "Back", key=f"back-{step}", on_click=go_to, args=(step - 1,),
                icon=":material/arrow_back:",
            )  # fmt: skip
            if unanswered:
                st.form_submit_button(
                    "Continue anyway", key=f"continue-{step}", on_click=next_from,
                    args=(step, True),
                )  # fmt: skip
            st.form_submit_button(
                "Next", type="primary", key=f"next-{step}", on_click=next_from,
                args=(step, False), icon=":material/arrow_forward:", icon_position="right",
            )  # fmt: skip

else:
    ui.context_caption(form, *chosen_workplace())
    ui.progress(review_step, review_step)
    st.header("Check your answers", anchor=False)
    draft_notes()
    ui.quiet(ui.until_submitted(form))
    if problem is not None:
        ui.submission_problems(problem, form)
    if st.session_state.get(FAILURE):
        st.error(st.session_state[FAILURE], icon=":material/cloud_off:")
    ui.review_answers(form, current_answers(), go_to)
    ui.review_comment(st.session_state.get(ui.COMMENT_KEY) or "")
    with st.container(horizontal=True, horizontal_alignment="distribute"):
        st.button("Back", key="back-review", on_click=go_to, args=(last_step,),
                  icon=":material/arrow_back:")  # fmt: skip
        st.button("Submit my answers", type="primary", key="submit", on_click=submit,
                  icon=":material/send:")  # fmt: skip

ui.scroll_to_top(step)
