"""The documentation shipped in the package, for `natoma-entra docs [TOPIC]` where only the CLI is installed.

docs/ is the source (it is the site). pages/*.md and index.py are generated from it by `python tests/docs/generate.py`
(site-only syntax turned into plain Markdown, links into `natoma-entra docs TOPIC`); tests/docs/test_manual.py fails
when they differ from what docs/ generates.
"""
from __future__ import annotations

from importlib import resources
from typing import NamedTuple

from . import index

# The docs site. Also `site_url` in mkdocs.yml and "Documentation" in pyproject.toml's [project.urls]; the hints in
# natoma_entra/graph name pages under it (tests/docs/test_manual.py holds them all equal). A placeholder host until the
# site is published.
SITE_URL = "https://natoma.github.io/natoma-entra/"

__all__ = ["SITE_URL", "TOPICS", "Topic", "UnknownTopic", "find", "page", "url"]


class Topic(NamedTuple):
    name: str     # what `natoma-entra docs NAME` takes: the page's file name on the site (docs/NAME.md)
    kind: str     # "guide" or "command"
    title: str
    summary: str  # one line, for the list of topics


TOPICS: tuple[Topic, ...] = tuple(Topic(*t) for t in index.TOPICS)


class UnknownTopic(LookupError):
    pass


def _key(text: str) -> str:
    return "-".join(text.strip().lower().replace("_", " ").split())


def find(name: str) -> Topic:
    """The topic a reader typed: case and spaces do not matter (`Graph assumptions` = `graph-assumptions`), and a
    command may be named as typed (`app create`, `natoma-entra config init`)."""
    wanted = _key(name).removeprefix("natoma-entra-")
    for topic in TOPICS:
        if wanted in (topic.name, _key(topic.title).removeprefix("natoma-entra-")):
            return topic
    raise UnknownTopic(name)


def page(topic: Topic) -> str:
    """The topic's page: Markdown that reads as plain text."""
    return resources.files(__name__).joinpath("pages", f"{topic.name}.md").read_text(encoding="utf-8")


def url(topic: Topic) -> str:
    """The topic's page on the site."""
    return f"{SITE_URL}{topic.name}/"
