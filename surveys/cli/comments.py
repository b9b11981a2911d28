"""`attune comments analyse`: each comment's theme and tone, on this server, with a progress bar."""

from __future__ import annotations

from typing import Annotated

import typer

from surveys.cli import app, fail, open_engine

comments_app = typer.Typer(help="Comment themes and tone.", no_args_is_help=True)
app.add_typer(comments_app, name="comments")


@comments_app.command("analyse")
def analyse(
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Analyse every comment again (after a codebook change), not just new ones.",
        ),
    ] = False,
) -> None:
    """Give each shown comment a theme from the codebook and a tone (positive, neutral,
    negative). Nothing leaves this server: the models ship inside the installed packages."""
    from surveys.analysis import analyse_comments, analyser_for, count_to_analyse
    from surveys.storage import schema_is_current

    engine = open_engine()
    if not schema_is_current(engine):
        raise fail("the schema is not up to date; run `attune db upgrade` first")
    total = count_to_analyse(engine, everything=everything)
    if not total:
        typer.echo("Every comment is analysed already.")
        return
    analyser = analyser_for(engine)
    with typer.progressbar(length=total, label=f"Analysing {total:,} comment(s)") as bar:
        done = analyse_comments(
            engine, everything=everything, analyser=analyser, progress=bar.update
        )
    typer.echo(f"Analysed {done:,} comment(s) with {analyser.embedder.name}.")
