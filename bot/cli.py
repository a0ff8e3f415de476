"""The `qa-bot` command line: ask questions and build the index from a shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

from bot.launch import add_commands as add_bot_commands
from index import Answer, BuildReport, EmptyIndexError, Hit, SearchIndex, build_index
from index.progress import Progress, terminal_or_log
from index.store import CACHE_ENV


class UsageError(Exception):
    """A mistake the user can fix; the message says how."""


def seeds_folder(value: str | None) -> Path:
    return Path(value or os.environ.get("SEEDS_DIR") or "seeds")


def citation(hit: Hit) -> str:
    parts = [hit.title, hit.date or "undated", f"sentence {hit.sentence}", hit.article]
    if hit.url:
        parts.append(hit.url)
    return " · ".join(parts)


def answer_json(answer: Answer) -> str:
    answers = [
        {
            "rank": rank,
            "score": round(hit.score, 6),
            "confident": hit.confident,
            "article": hit.article,
            "title": hit.title,
            "date": hit.date,
            "url": hit.url,
            "sentence": hit.sentence,
            "text": hit.text,
            "passage": hit.passage,
        }
        for rank, hit in enumerate(answer.hits, start=1)
    ]
    document = {
        "question": answer.question,
        "confident": answer.confident,
        "short_answer": answer.short_answer,
        "answers": answers,
    }
    return json.dumps(document, ensure_ascii=False)


def bold(text: str) -> str:
    """Bold on a terminal; plain text when piped, so scripts read the words alone."""
    return f"\033[1m{text}\033[0m" if sys.stdout.isatty() else text


def answer_text(answer: Answer) -> str:
    lines = [f"Q: {answer.question}"]
    if not answer.confident:
        lines.append("   No confident answer in the articles." + (" Closest passages:" if answer.hits else ""))
    elif answer.short_answer:
        lines.append(f"   Answer: {bold(answer.short_answer)}")
    for rank, hit in enumerate(answer.hits, start=1):
        weak = "" if hit.confident else " (weak match)"
        body = textwrap.fill(hit.passage, width=100, initial_indent=f"{rank:>2}. ", subsequent_indent="    ")
        lines.append(body + weak)
        lines.append(f"    — {citation(hit)}")
    return "\n".join(lines)


def _questions(given: Sequence[str]) -> Iterable[str]:
    if given:
        for question in given:
            if not question.strip():
                raise UsageError('the question is empty: ask something, for example qa-bot ask "Who is in charge?"')
            yield question
        return
    # One question per line of standard input; blank lines are skipped.
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


def _load(
    folder: Path, args: argparse.Namespace | None = None, progress: Progress | None = None
) -> tuple[SearchIndex, BuildReport]:
    cache_dir = getattr(args, "cache_dir", None)
    use_cache = not getattr(args, "no_cache", False)
    try:
        return build_index(
            folder, cache_dir=Path(cache_dir) if cache_dir else None, use_cache=use_cache, progress=progress
        )
    except EmptyIndexError as error:
        raise UsageError(str(error)) from None


def cmd_ask(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise UsageError(f"-k must be at least 1 (got {args.k})")
    if any(not q.strip() for q in args.question):
        list(_questions(args.question))  # raises the usage error before the index is built
    index, _ = _load(seeds_folder(args.seeds), args)
    for n, question in enumerate(_questions(args.question)):
        answer = index.ask(question, args.k)
        if args.json:
            print(answer_json(answer), flush=True)
        else:
            print(("\n" if n else "") + answer_text(answer), flush=True)
    return 0


def report_text(folder: Path, report: BuildReport) -> str:
    lines = [
        f"Indexed {report.articles:,} article(s) from {folder}: "
        f"{report.sentences:,} sentences, {report.tokens:,} tokens, in {report.seconds:.2f} s."
    ]
    if report.skipped:
        lines.append(f"Skipped {len(report.skipped):,} file(s):")
        lines.extend(f"  {s.path}: {s.reason}" for s in report.skipped)
    if report.cache_file and report.not_saved:
        lines.append(f"Saved index: {report.cache_file} (not saved: {report.not_saved}).")
    elif report.cache_file:
        state = "reused: no article changed" if report.from_cache else "written"
        lines.append(f"Saved index: {report.cache_file} ({state}).")
    return "\n".join(lines)


def cmd_index(args: argparse.Namespace) -> int:
    folder = seeds_folder(args.seeds)
    _, report = _load(folder, args, terminal_or_log(sys.stderr))
    print(report_text(folder, report))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from index.answers import question_type
    from index.evaluation import SPLITS, evaluate_index_and_report, load_squad

    if args.split not in SPLITS:
        raise UsageError(f"--split must be one of {', '.join(SPLITS)} (got {args.split})")
    path = Path(args.path)
    if not path.is_file():
        raise UsageError(f"{path} is not a file: give the path of SQuAD v1.1 dev (JSON, gzip-compressed or not)")
    try:
        corpus = load_squad(path)
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"{path} is not SQuAD v1.1 JSON ({error}); give the path of dev-v1.1.json(.gz)") from None
    questions = corpus.split(args.split)
    if args.limit is not None:
        questions = questions[: max(args.limit, 0)]
    seed_index = None if args.no_seed_check else _load(seeds_folder(args.seeds))[0]
    report = evaluate_index_and_report(
        corpus,
        questions,
        seed_index,
        typed=lambda q: question_type(q) is not None,
        baseline=not args.no_baseline,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(report, end="")
    if args.out:
        Path(args.out).write_text(report, encoding="utf-8")
    return 0


def _read_file(path: Path) -> bytes:
    """The file's bytes, refusing before reading one that is not an accepted kind or is too large."""
    from index.ingest import MAX_FILE_BYTES, check_upload

    check_upload(path.name, path.stat().st_size)
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    check_upload(path.name, len(data))  # it may have grown since
    return data


def cmd_add(args: argparse.Namespace) -> int:
    from index.ingest import ArticleExists, IngestError, add_article

    if len(args.file) > 1 and (args.title or args.date or args.url):
        raise UsageError("--title, --date and --url describe one article: add the files one at a time")
    folder = seeds_folder(args.seeds)
    if not folder.is_dir():
        raise UsageError(f"the seeds folder {folder} does not exist: create it, or give --seeds DIR")
    failed = 0
    for name in args.file:
        path = Path(name)
        try:
            data = _read_file(path)
            added = add_article(
                folder, path.name, data, title=args.title, date=args.date, url=args.url, replace=args.replace
            )
        except ArticleExists as error:
            print(f"qa-bot: {name}: {error} Add --replace to replace it.", file=sys.stderr)
            failed += 1
            continue
        except IngestError as error:
            print(f"qa-bot: {name}: {error}", file=sys.stderr)
            failed += 1
            continue
        except OSError as error:
            print(f"qa-bot: {name}: cannot read it ({error.strerror or error}).", file=sys.stderr)
            failed += 1
            continue
        verb = "Replaced" if added.replaced else "Added"
        print(f"{verb} {added.path}: “{added.title}”, {added.date or 'undated'}, {added.sentences:,} sentences.")
    if failed < len(args.file):
        print("The running bot serves it after /reload (or a restart).")
    return 1 if failed else 0


def cmd_eval_dialogues(args: argparse.Namespace) -> int:
    from index.dialogues import dialogue_index, evaluate_dialogues

    path = Path(args.path)
    if not path.is_file():
        raise UsageError(f"{path} is not a file: give a dialogue file such as tests/data/dialogues.json")
    try:
        index, dialogues = dialogue_index(path, seeds_folder(args.seeds))
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        raise UsageError(f"{path} is not a dialogue file ({error}); see tests/data/dialogues.json") from None
    seed_ids = {a.id for a in index.articles if not a.id.startswith("squad/")}
    parts = [
        ("all", dialogues),
        ("seed article", [d for d in dialogues if d.article in seed_ids]),
        ("SQuAD paragraphs", [d for d in dialogues if d.article not in seed_ids]),
    ]
    for name, part in parts:
        if part:
            print(f"{name} ({len(part)} dialogues):\n{evaluate_dialogues(index, part).table()}")
    return 0


def _cache_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--cache-dir", help=f"where the saved index is kept (default: ${CACHE_ENV}, else the user's cache folder)"
    )
    command.add_argument("--no-cache", action="store_true", help="build from the articles; neither read nor save")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="qa-bot", description="Answer questions from news articles.")
    commands = root.add_subparsers(dest="command", required=True)

    ask = commands.add_parser("ask", help="answer questions from the articles")
    ask.add_argument("--seeds", help="articles folder (default: $SEEDS_DIR, else ./seeds)")
    ask.add_argument("-k", type=int, default=3, help="passages per question (default: 3)")
    ask.add_argument("--json", action="store_true", help="one JSON object per question, one per line")
    _cache_options(ask)
    ask.add_argument("question", nargs="*", help="questions; with none, one per line of standard input")
    ask.set_defaults(run=cmd_ask)

    build = commands.add_parser("index", help="build the index and report what was indexed")
    build.add_argument("--seeds", help="articles folder (default: $SEEDS_DIR, else ./seeds)")
    _cache_options(build)
    build.set_defaults(run=cmd_index)

    evaluate = commands.add_parser("eval", help="measure answer quality on a benchmark")
    benchmarks = evaluate.add_subparsers(dest="benchmark", required=True)
    squad = benchmarks.add_parser("squad", help="sentence retrieval on SQuAD v1.1 dev, ReQA-style")
    squad.add_argument("path", help="SQuAD v1.1 dev JSON (dev-v1.1.json or .json.gz)")
    squad.add_argument("--out", help="also write the Markdown report to this file")
    squad.add_argument("--split", default="all", help="questions to ask: all (default), tune or held-out")
    squad.add_argument("--limit", type=int, help="ask only the first N questions of the split")
    squad.add_argument("--seeds", help="articles for the not-confident check (default: $SEEDS_DIR, else ./seeds)")
    squad.add_argument("--no-seed-check", action="store_true", help="skip the check against the seed articles")
    squad.add_argument("--no-baseline", action="store_true", help="skip rank-bm25 (its loop is slow)")
    squad.set_defaults(run=cmd_eval)
    talks = benchmarks.add_parser("dialogues", help="follow-up questions: second-turn R@1 with and without context")
    talks.add_argument("path", help="a dialogue file (tests/data/dialogues.json)")
    talks.add_argument("--seeds", help="articles indexed with the file's (default: $SEEDS_DIR, else ./seeds)")
    talks.set_defaults(run=cmd_eval_dialogues)

    add = commands.add_parser("add", help="add articles (.txt, .md, or .html news pages) to the seeds folder")
    add.add_argument("--seeds", help="articles folder (default: $SEEDS_DIR, else ./seeds)")
    add.add_argument("--title", help="the article's title (default: from the file or page)")
    add.add_argument("--date", help="its date, YYYY-MM-DD (default: from the file or page)")
    add.add_argument("--url", help="its link (default: from the file or page)")
    add.add_argument("--replace", action="store_true", help="replace an article file of the same name")
    add.add_argument("file", nargs="+", help="the files to add")
    add.set_defaults(run=cmd_add)

    add_bot_commands(commands)  # run, sync and check: the Discord bot
    return root


def main(argv: Sequence[str] | None = None) -> int:
    # Real environment variables win over .env, which is looked for in the working directory and its parents.
    load_dotenv(find_dotenv(usecwd=True), override=False)
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except UsageError as error:
        print(f"qa-bot: {error}", file=sys.stderr)
        return 1 if args.command == "index" else 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`qa-bot ask … | head`): stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
