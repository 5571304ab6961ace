"""`studyapp suggest`: the suggested grade of one typed answer, for instructors to try.

Uses the default calibration (not a learner's), the offline MiniLM encoder and the same
on-disk embedding cache as the review. Torch loads inside the command only.
Exit status 0; 1 with one line when the encoder cannot be loaded.
"""

from __future__ import annotations

import json

import click


def register(main: click.Group) -> None:
    main.add_command(suggest_cmd)


@click.command("suggest")
@click.option("--reference", required=True, metavar="TEXT", help="The reference answer.")
@click.option("--answer", required=True, metavar="TEXT", help="The typed answer to grade.")
@click.option("--question", metavar="TEXT",
              help="The question: an answer that only echoes it is demoted.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def suggest_cmd(reference: str, answer: str, question: str | None, as_json: bool) -> None:
    """Suggest a grade (1 Again .. 4 Easy) for ANSWER against REFERENCE.

    Prints the cosine similarity of the two (all-MiniLM-L6-v2, offline), the closeness the
    rating is read from (the similarity, demoted when the answer echoes --question) and the
    rating under the default calibration.
    """
    from studyapp.services.suggest import GradeSuggester
    from studyapp.study.srs import RATINGS

    suggester = GradeSuggester()
    if not suggester.load():
        raise click.ClickException(f"the answer encoder cannot be loaded: {suggester.error}")
    found = suggester.suggest(reference, answer, question)
    if as_json:
        click.echo(json.dumps(found.to_dict()))
        return
    click.echo(f"similarity {found.similarity:.3f}  closeness {found.closeness:.3f}  "
               f"suggested {found.rating} {RATINGS[found.rating]}")
