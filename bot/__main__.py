"""storybot's command line: terminal chat, ask, sources, eval, check, feedback, Discord.

`python -m bot` starts the Discord bot when DISCORD_TOKEN is set, and the
terminal chat otherwise. Every command takes --seeds DIR (or STORYBOT_SEEDS),
or --stories DIR (or STORYBOT_STORIES) with --story NAME to pick one of several.
Errors a user can fix are one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from collections.abc import Sequence

from .core.collector import collector_paused
from .settings import Settings, SettingsError

log = logging.getLogger("storybot")
EXIT_USAGE = 2


class UserError(Exception):
    """An error the user can fix: printed as one line, exit code 2."""


def _common(default: object) -> argparse.ArgumentParser:
    # Sub-commands use SUPPRESS so `--seeds` given before the command survives.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seeds", metavar="DIR", default=default,
                        help="folder of article .txt files (default: STORYBOT_SEEDS or the bundled story)")
    common.add_argument("--stories", metavar="DIR", default=default,
                        help="folder with one subfolder per story (default: STORYBOT_STORIES); replaces --seeds")
    common.add_argument("--story", metavar="NAME", default=default,
                        help="the story to use from --stories (default: STORYBOT_DEFAULT_STORY or the first by name)")
    common.add_argument("-v", "--verbose", action="store_true", default=default or False, help="log more detail")
    return common


def _parser() -> argparse.ArgumentParser:
    common = _common(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="storybot", parents=[_common(None)],
        description="Answer questions about one news story, with the passages and citations used.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("chat", parents=[common], help="terminal chat (the default without DISCORD_TOKEN)")
    ask = sub.add_parser("ask", parents=[common], help="answer one question")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    ask.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    sub.add_parser("sources", parents=[common], help="list the articles storybot knows")
    ev = sub.add_parser("eval", parents=[common], help="retrieval figures for a question file (JSONL)")
    ev.add_argument("file", help="questions in the format of shared/eval/dev.jsonl")
    ev.add_argument("--details", metavar="OUT.jsonl", help="write one JSON line per question")
    sub.add_parser("check", parents=[common], help="report on a corpus before anyone chats with it")
    sub.add_parser("feedback", parents=[common], help="summary of Helpful / Not helpful votes from Discord")
    sub.add_parser("discord", parents=[common], help="start the Discord bot (needs DISCORD_TOKEN)")
    return parser


def pick_story(settings: Settings, name: str | None) -> Settings:
    """The settings pointed at one story's folder: ``name`` (or the default) from ``settings.stories``."""
    if settings.stories is None:
        if name:
            raise UserError("--story NAME picks one of several stories: give their folder with --stories DIR "
                            "or STORYBOT_STORIES")
        return settings
    from dataclasses import replace

    from .core.library import StoryUnavailable, discover, find_story

    try:
        folders = discover(settings.stories)
    except StoryUnavailable as exc:
        raise UserError(str(exc)) from None
    wanted = (name or settings.default_story or next(iter(folders))).strip()
    found = find_story(folders, wanted)
    if found is None:
        raise UserError(f"there is no story called {wanted!r} in {settings.stories} (stories: {', '.join(folders)})")
    return replace(settings, seeds=folders[found])


def _load_story(settings: Settings):
    """The story for ``settings.seeds``: from the index cache when the files are unchanged.

    The cyclic garbage collector is paused meanwhile, and what was loaded is
    then frozen out of its passes (``gc.freeze``, as the Discord client does
    with its stories). Importing numpy, scipy and the engine, then loading the
    cache, allocates objects that nearly all live as long as the process: the
    collector's passes over them (about 90 on the bundled story) cost about
    25 ms, a tenth of a cache-hit ``ask``, to free some 800 objects, which now
    stay (a few hundred KB at most, once per process).
    """
    with collector_paused(freeze=True):
        from .core.cache import load_story
        from .core.corpus import CorpusError

        try:
            return load_story(settings.seeds, cache_dir=settings.cache_dir, warn=_warn, progress=_progress())
        except CorpusError as exc:
            raise UserError(str(exc)) from None


def _warn(message: str) -> None:
    print(f"storybot: warning: {message}", file=sys.stderr)


class TerminalProgress:
    """Build progress on stderr: articles read, paragraphs indexed.

    On a terminal the line is redrawn in place, and only once building has
    taken a moment (a small story builds silently); when stderr is a file or
    a pipe, plain lines at every tenth, and only for large corpora.
    """

    LARGE = {"articles read": 1000, "paragraphs indexed": 20_000}
    DELAY = 0.5  # seconds before a terminal shows anything
    REDRAW = 0.1

    def __init__(self, stream=None) -> None:
        import time

        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = time.monotonic
        self.started = self.clock()
        self.large = False
        self.last_draw = 0.0
        self.last_tenth: dict[str, int] = {}
        self.open_line = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        self.large = self.large or total >= self.LARGE.get(stage, 1 << 62)
        text = f"storybot: {stage}: {done:,}/{total:,}" if total > 1 else f"storybot: {stage}..."
        if self.tty:
            if not (self.large or now - self.started >= self.DELAY):
                return
            if done < total and now - self.last_draw < self.REDRAW:
                return
            self.last_draw = now
            self.stream.write("\r\x1b[K" + text)
            self.open_line = done < total
            if not self.open_line:
                self.stream.write("\n")
            self.stream.flush()
        elif self.large:
            tenth = 10 * done // max(total, 1)
            if self.last_tenth.get(stage) == tenth:
                return
            self.last_tenth[stage] = tenth
            print(text, file=self.stream, flush=True)


def _progress() -> TerminalProgress:
    return TerminalProgress(sys.stderr)


def answer_json(answer) -> dict:
    """An Answer as plain JSON-able data (used by `ask --json`)."""
    return {
        "question": answer.question,
        "answered": answer.answered,
        "confidence": answer.confidence,
        "answer_sentence": answer.sentence,
        "context": answer.context,
        "notice": answer.notice,
        "passages": [
            {
                "rank": h.rank,
                "score": h.score,
                "text": h.passage.text,
                "article": h.passage.citation.article,
                "title": h.passage.citation.title,
                "outlet": h.passage.citation.outlet,
                "date": h.passage.citation.date,
                "url": h.passage.citation.url,
                "paragraph": h.passage.citation.paragraph,
                "line": h.passage.citation.line,
                # other articles carrying the same text word for word (shown once, cited for each)
                "also": [{"article": c.article, "title": c.title, "outlet": c.outlet, "date": c.date,
                          "url": c.url, "paragraph": c.paragraph, "line": c.line} for c in h.also],
            }
            for h in answer.hits
        ],
    }


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    from .terminal.render import render_answer

    story = _load_story(settings)
    answer = story.ask(args.question, k=max(1, min(args.k, 50)))
    if args.json:
        print(json.dumps(answer_json(answer), ensure_ascii=False))
    else:
        print(render_answer(answer, width=_width(), color=sys.stdout.isatty()))
    return 0


def cmd_chat(settings: Settings, args: argparse.Namespace, notice: str | None = None) -> int:
    from .terminal.chat import chat

    story = _load_story(settings)
    if notice:  # after loading, so a bad folder is the only line a user sees
        print(notice, file=sys.stderr)
    return chat(story, width=_width(), color=sys.stdout.isatty())


def cmd_sources(settings: Settings, args: argparse.Namespace) -> int:
    from .terminal.render import render_sources

    story = _load_story(settings)
    if settings.stories is not None:  # say which of several stories this is
        print(f"Story {settings.seeds.name} (pick another with --story NAME)")
    print(render_sources(story.articles, width=_width()))
    return 0


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from .core.evaluate import EvalFileError, detail_row, evaluate, format_scores, load_questions

    try:
        questions = load_questions(args.file)
    except EvalFileError as exc:
        raise UserError(str(exc)) from None
    story = _load_story(settings)
    report, pairs = evaluate(questions, story.ask)
    print(f"storybot eval: {args.file} on {settings.seeds} ({len(story.articles)} articles, {len(story.passages)} passages)")
    for split, scores in report.by_split.items():
        print("\n".join(format_scores(scores, split)))
    print("\n".join(format_scores(report.overall, "all")))
    if args.details:
        try:
            with open(args.details, "w", encoding="utf-8") as fh:
                for q, a in pairs:
                    fh.write(json.dumps(detail_row(q, a), ensure_ascii=False) + "\n")
        except OSError as exc:
            raise UserError(f"cannot write {args.details!r}: {exc.strerror or exc}") from None
    return 0


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from .core.check import check_folder

    if settings.stories is not None and not args.story:  # every story, before the bot serves them
        from .core.library import StoryUnavailable, discover

        try:
            folders = discover(settings.stories)
        except StoryUnavailable as exc:
            raise UserError(str(exc)) from None
        failed = []
        for name, folder in folders.items():
            print(f"== story {name} ==")
            lines, ok = check_folder(folder, verbose=args.verbose, cache_dir=settings.cache_dir)
            print("\n".join(lines) + "\n")
            if not ok:
                failed.append(name)
        print(f"{len(folders)} stories checked" + (f"; not usable: {', '.join(failed)}" if failed else ", all usable"))
        return EXIT_USAGE if failed else 0
    lines, ok = check_folder(settings.seeds, verbose=args.verbose, cache_dir=settings.cache_dir)
    print("\n".join(lines))
    return 0 if ok else EXIT_USAGE


def cmd_feedback(settings: Settings, args: argparse.Namespace) -> int:
    if settings.database_url:  # several processes: the votes are in PostgreSQL
        try:
            from .postgres_state import summary_lines as summary_from_postgres
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("psycopg"):
                raise
            raise UserError("STORYBOT_DATABASE_URL is set but psycopg is not installed: pip install -e '.[postgres]'") from None
        print("\n".join(summary_from_postgres(settings.database_url)))
        return 0
    from .feedback import summary_lines

    print("\n".join(summary_lines(settings.feedback_db)))
    return 0


def cmd_discord(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.discord_token:
        raise UserError("DISCORD_TOKEN is not set: put it in the environment or in .env (see .env.example)")
    import asyncio

    from .discord_app import run_discord

    return asyncio.run(run_discord(settings))


def cmd_default(settings: Settings, args: argparse.Namespace) -> int:
    if settings.discord_token:
        return cmd_discord(settings, args)
    return cmd_chat(settings, args, notice="No DISCORD_TOKEN set: opening the terminal chat (set it to run the Discord bot).")


COMMANDS = {
    None: cmd_default, "chat": cmd_chat, "ask": cmd_ask, "sources": cmd_sources, "eval": cmd_eval,
    "check": cmd_check, "feedback": cmd_feedback, "discord": cmd_discord,
}


def _width() -> int:
    return min(100, shutil.get_terminal_size((80, 24)).columns)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env().with_seeds(args.seeds).with_stories(args.stories)
    except SettingsError as exc:
        print(f"storybot: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else getattr(logging, settings.log_level, logging.INFO),
        format="storybot: %(levelname)s: %(message)s" if not args.verbose else "%(asctime)s %(name)s %(levelname)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("bot.core.corpus").setLevel(logging.WARNING)
    try:
        every_story = args.command == "discord" or (args.command is None and settings.discord_token) or (
            args.command == "check" and not args.story)
        if not every_story:  # the bot serves every story and check checks them all; the others work on one
            settings = pick_story(settings, args.story)
        return COMMANDS[args.command](settings, args)
    except (UserError, SettingsError) as exc:  # SettingsError: e.g. a database URL without psycopg
        print(f"storybot: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception:  # the last line of defence: a clear line for the user, the detail in the log
        log.debug("unexpected error", exc_info=True)
        print("storybot: error: something went wrong; run again with --verbose for details", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
