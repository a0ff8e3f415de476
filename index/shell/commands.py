"""The Discord-free commands of `qa-bot`: ask, index, eval and add, on the retrieval core alone.

`bot.cli` adds the bot's own commands (run, sync, check, stats) and is the entry point.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from index.answers.overlaps import hits_for
from index.answers.results import DEFAULT_HITS
from index.articles.text import clean_text, counted, printable
from index.articles.web import AddressPolicy
from index.meaning.encoder import DEFAULT_MODEL, Encoder, ModelUnavailable
from index.meaning.stage import cannot_write, cores, fill, open_vectors, store_folder
from index.progress import Progress, terminal_or_log
from index.serving.building import BuildReport, EmptyIndexError, MissingSeedsFolder, build_index
from index.serving.search_index import SearchIndex
from index.shell.terminal import UsageError, answer_json, answer_text, emit, env_flag, text_width
from index.storage.store import CACHE_ENV, cache_folder

if TYPE_CHECKING:
    from index.evaluation.dialogues import Dialogue


def seeds_folder(value: str | None) -> Path:
    return Path(value or os.environ.get("SEEDS_DIR") or "seeds")


def _questions(given: Sequence[str]) -> Iterable[str]:
    if given:
        for question in given:
            # Undecodable bytes in an argument arrive as lone surrogates: clean_text makes them U+FFFD.
            if not clean_text(question).strip():
                raise UsageError('the question is empty: ask something, for example qa-bot ask "Who is in charge?"')
            yield clean_text(question)
        return
    if sys.stdin.isatty():
        yield from _prompted()
        return
    # One question per line of standard input (UTF-8 whatever the locale; a bad byte is U+FFFD, so one
    # junk line costs only its own answer); blank lines are skipped.
    for raw in sys.stdin.buffer:
        line = clean_text(raw.decode("utf-8", "replace")).strip()
        if line:
            yield line


def _prompted() -> Iterable[str]:
    """Questions typed at a prompt, one at a time, until Ctrl-D (or Ctrl-C) ends the session."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input(), where Python has it)
    print("Ask a question and press Enter; Ctrl-D to finish.", file=sys.stderr)
    while True:
        print("? ", end="", file=sys.stderr, flush=True)  # on the terminal even when the answers go to a file
        try:
            line = clean_text(input()).strip()
        except EOFError:
            print(file=sys.stderr)
            return
        if line:
            yield line


def semantic_wanted(args: argparse.Namespace | None) -> bool:
    """Sentence vectors are used unless `--lexical` or SEMANTIC=off (for comparison, or where the model cannot run)."""
    if getattr(args, "lexical", False):
        return False
    try:
        return env_flag("SEMANTIC", os.environ.get("SEMANTIC", ""), True)
    except ValueError as error:
        raise UsageError(str(error)) from None


_scratch: list[tempfile.TemporaryDirectory[str]] = []  # --no-cache: vectors live until the command ends


def vectors_folder(report: BuildReport) -> Path:
    """Where the archive's sentence vectors are kept: beside its saved index, or in a temporary folder
    (with --no-cache, or when the cache folder cannot be written: then they are computed each time)."""
    if report.cache_file is not None:
        folder = store_folder(report.cache_file.parent, report.cache_file, DEFAULT_MODEL)
        problem = cannot_write(folder)
        if problem is None:
            return folder
        print(f"qa-bot: sentence vectors not saved ({problem}); they are computed for this run only.", file=sys.stderr)
    if not _scratch:
        _scratch.append(tempfile.TemporaryDirectory(prefix="qa-bot-vectors-"))
    return Path(_scratch[0].name)


@dataclass(frozen=True)
class VectorsReport:
    ready: int
    sentences: int
    computed: int
    unavailable: str | None = None  # why the model could not be used


def attach_vectors(index: SearchIndex, report: BuildReport, progress: Progress | None) -> VectorsReport:
    """Compute the sentence vectors still missing (saved for the next run) before any question is answered."""
    try:
        stage, encoder = open_vectors(index, vectors_folder(report))
    except ModelUnavailable as error:
        print(f"qa-bot: answering by words only: {error}.", file=sys.stderr)
        return VectorsReport(0, index.sentence_count, 0, str(error))
    try:
        computed = fill(stage, index.embedding_texts, encoder.embed, progress or terminal_or_log())
    except OSError as error:  # a full disk, a read-only or vanished cache folder: the answers need no vectors
        # Then every answer is by words alone (`lexical`), not by words for some articles and meaning for others.
        why = f"sentence vectors could not be saved ({error.strerror or error})"
        hint = "free some space in the cache folder" if error.errno in (errno.ENOSPC, errno.EDQUOT) else "check it"
        print(f"qa-bot: {why}: answering by words only; {hint}.", file=sys.stderr)
        return VectorsReport(0, index.sentence_count, 0, why)
    return VectorsReport(stage.view.ready, stage.sentences, computed)


def _load(
    folder: Path, args: argparse.Namespace | None = None, progress: Progress | None = None
) -> tuple[SearchIndex, BuildReport, VectorsReport | None]:
    cache_dir = getattr(args, "cache_dir", None)
    use_cache = not getattr(args, "no_cache", False)
    semantic = semantic_wanted(args)  # a mistake in SEMANTIC is told before the build, not after it
    try:
        index, report = build_index(
            folder, cache_dir=Path(cache_dir) if cache_dir else None, use_cache=use_cache, progress=progress
        )
    except MissingSeedsFolder as error:
        if getattr(args, "seeds", None):  # the folder came from --seeds, not SEEDS_DIR
            shown = printable(str(folder))
            raise UsageError(f"The seeds folder {shown} does not exist: check --seeds, or create it.") from None
        raise UsageError(str(error)) from None
    except EmptyIndexError as error:
        raise UsageError(str(error)) from None
    vectors = attach_vectors(index, report, progress) if semantic else None
    return index, report, vectors


def cmd_ask(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise UsageError(f"-k must be at least 1 (got {args.k})")
    if any(not clean_text(q).strip() for q in args.question):
        list(_questions(args.question))  # raises the usage error before the index is built
    index, _, vectors = _load(seeds_folder(args.seeds), args)
    lexical = vectors is None or vectors.unavailable is not None
    for n, question in enumerate(_questions(args.question)):
        # More hits than passages: overlapping passages are shown as one, and the next hits fill the room.
        answer = index.ask(question, hits_for(args.k), lexical=lexical)
        if args.json:
            emit(answer_json(dataclasses.replace(answer, hits=answer.hits[: args.k])))
        else:
            emit(("\n" if n else "") + answer_text(answer, text_width(), args.k))
    return 0


def report_text(folder: Path, report: BuildReport, vectors: VectorsReport | None = None) -> str:
    lines = [
        f"Indexed {counted(report.articles, 'article')} from {printable(str(folder))}: "
        f"{counted(report.sentences, 'sentence')}, {counted(report.tokens, 'token')}, in {report.seconds:.2f} s."
    ]
    if report.skipped:
        lines.append(f"Skipped {counted(len(report.skipped), 'file')}:")
        lines.extend(f"  {s.path}: {s.reason}" for s in report.skipped)
    if report.cache_file and report.not_saved:
        lines.append(f"Saved index: {report.cache_file} (not saved: {report.not_saved}).")
    elif report.cache_file:
        state = "reused: no article changed" if report.from_cache else "written"
        lines.append(f"Saved index: {printable(str(report.cache_file))} ({state}).")
    if vectors is None:
        lines.append("Sentence vectors: not used (--lexical or SEMANTIC=off): answers by words only.")
    elif vectors.unavailable:
        lines.append(f"Sentence vectors: unavailable ({vectors.unavailable}): answers by words only.")
    else:
        lines.append(
            f"Sentence vectors ({DEFAULT_MODEL.name}): {vectors.ready:,} of {counted(vectors.sentences, 'sentence')}, "
            f"{vectors.computed:,} computed now."
        )
    return "\n".join(lines)


def cmd_index(args: argparse.Namespace) -> int:
    folder = seeds_folder(args.seeds)
    _, report, vectors = _load(folder, args, terminal_or_log(sys.stderr))
    emit(report_text(folder, report, vectors))
    return 0


def _squad_vectors(args: argparse.Namespace) -> Callable[[SearchIndex], None] | None:
    """Gives the SQuAD index its vectors, kept in the cache folder for the next run (None: no model)."""
    from index.evaluation.squad import attach_squad_vectors

    try:
        folder = cache_folder(Path(args.cache_dir) if getattr(args, "cache_dir", None) else None)
        encoder = Encoder(threads=cores())
    except ModelUnavailable as error:
        print(f"qa-bot: measuring words only: {error}.", file=sys.stderr)
        return None
    model = encoder.model

    def attach(index: SearchIndex) -> None:
        progress = terminal_or_log(sys.stderr)
        attach_squad_vectors(
            index, folder / "vectors-squad" / model.identity, model.identity, model.dimension, encoder.embed, progress
        )

    return attach


def cmd_eval(args: argparse.Namespace) -> int:
    from index.evaluation.squad import SPLITS, SquadFormatError, evaluate_index_and_report, load_squad

    if args.split not in SPLITS:
        raise UsageError(f"--split must be one of {', '.join(SPLITS)} (got {args.split})")
    path = Path(args.path)
    if not path.is_file():
        raise UsageError(
            f"{path} is not a file: give the path of SQuAD v1.1 dev (dev-v1.1.json, from "
            "https://rajpurkar.github.io/SQuAD-explorer/; JSON, gzip-compressed or not)"
        )
    try:
        corpus = load_squad(path)
    except OSError as error:
        raise UsageError(f"could not read {path} ({error.strerror or error}): check its permissions") from None
    except SquadFormatError as error:
        raise UsageError(f"{path} is not SQuAD v1.1 JSON ({error}): give the path of dev-v1.1.json(.gz)") from None
    questions = corpus.split(args.split)
    if args.limit is not None:
        questions = questions[: max(args.limit, 0)]
    with contextlib.ExitStack() as stack:
        # Opened first: a path that cannot be written is told before minutes of evaluation, not after.
        out = stack.enter_context(_open_report(args.out)) if args.out else None
        seed_index = None if args.no_seed_check else _load(seeds_folder(args.seeds), args)[0]
        report = evaluate_index_and_report(
            corpus,
            questions,
            seed_index,
            baseline=not args.no_baseline,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
            attach_vectors=_squad_vectors(args) if semantic_wanted(args) else None,
        )
        emit(report, end="")
        if out:
            try:
                out.write(report)
                out.flush()
            except OSError as error:
                raise UsageError(f"could not write the report to {args.out} ({error.strerror or error})") from None
    return 0


def _open_report(path: str) -> TextIO:
    try:
        return open(path, "w", encoding="utf-8")  # closed by the caller's ExitStack
    except OSError as error:
        raise UsageError(f"could not write the report to {path} ({error.strerror or error})") from None


def _read_file(path: Path) -> bytes:
    """The file's bytes, refusing before reading one that is not an accepted kind or is too large."""
    from index.articles.ingest import MAX_FILE_BYTES, check_upload

    check_upload(path.name, path.stat().st_size)
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    check_upload(path.name, len(data))  # it may have grown since
    return data


def fetch_policy() -> AddressPolicy:
    """FETCH_ALLOW_NETWORKS: private networks links may point into (none by default)."""
    raw = os.environ.get("FETCH_ALLOW_NETWORKS", "")
    try:
        return AddressPolicy.parse(raw)
    except ValueError:
        raise UsageError(
            f"FETCH_ALLOW_NETWORKS must be networks such as 10.0.0.0/8 or 192.168.1.5, comma-separated "
            f"(got {printable(raw)[:80]!r}); fix it in .env"
        ) from None


def _is_link(name: str) -> bool:
    return name.lower().startswith(("http://", "https://"))


def cmd_add(args: argparse.Namespace) -> int:
    from index.articles.ingest import ArticleExists, IngestError, add_article, add_page
    from index.articles.web import FetchError

    if len(args.file) > 1 and (args.title or args.date or args.url):
        raise UsageError("--title, --date and --url describe one article: add the files one at a time")
    folder = seeds_folder(args.seeds)
    if not folder.is_dir():
        raise UsageError(f"the seeds folder {folder} does not exist: create it, or give --seeds DIR")
    policy = fetch_policy() if any(_is_link(name) for name in args.file) else None
    failed = 0
    for name in args.file:
        path = Path(name)
        try:
            if _is_link(name):
                if args.url:
                    raise UsageError("--url is the link of a file; a page added from its link keeps that link")
                added = add_page(folder, name, policy=policy, title=args.title, date=args.date, replace=args.replace)
            else:
                data = _read_file(path)
                added = add_article(
                    folder, path.name, data, title=args.title, date=args.date, url=args.url, replace=args.replace
                )
        except ArticleExists as error:
            print(f"qa-bot: {printable(name)}: {error} Add --replace to replace it.", file=sys.stderr)
            failed += 1
            continue
        except (IngestError, FetchError) as error:
            print(f"qa-bot: {printable(name)}: {error}", file=sys.stderr)
            failed += 1
            continue
        except OSError as error:
            print(f"qa-bot: {printable(name)}: cannot read it ({error.strerror or error}).", file=sys.stderr)
            failed += 1
            continue
        verb = "Replaced" if added.replaced else "Added"
        source = f", {clean_text(added.source)}" if added.source else ""
        emit(
            f"{verb} {printable(str(added.path))}: “{clean_text(added.title)}”{source}, "
            f"{clean_text(added.date or 'undated')}, {counted(added.sentences, 'sentence')}."
        )
    if failed < len(args.file):
        emit("The running bot serves it after /reload (or a restart).")
    return 1 if failed else 0


def cmd_eval_dialogues(args: argparse.Namespace) -> int:
    from index.evaluation.dialogues import dialogue_index

    path = Path(args.path)
    if not path.is_file():
        raise UsageError(f"{path} is not a file: give a dialogue file such as tests/data/dialogues.json")
    try:
        index, dialogues = dialogue_index(path, seeds_folder(args.seeds))
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        raise UsageError(f"{path} is not a dialogue file ({error}); see tests/data/dialogues.json") from None
    with contextlib.ExitStack() as stack:
        if semantic_wanted(args):
            # As `ask` answers: with the sentence vectors, computed for this run (a few seconds).
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qa-bot-dialogues-")))
            try:
                stage, encoder = open_vectors(index, folder)
                fill(stage, index.embedding_texts, encoder.embed, terminal_or_log(sys.stderr))
            except ModelUnavailable as error:
                print(f"qa-bot: measuring words only: {error}.", file=sys.stderr)
        try:
            _dialogue_tables(index, dialogues)
        except ValueError as error:  # a dialogue whose evidence its article does not hold
            raise UsageError(f"{path} is not a dialogue file ({error}); see tests/data/dialogues.json") from None
    return 0


def _dialogue_tables(index: SearchIndex, dialogues: list[Dialogue]) -> None:
    from index.evaluation.dialogues import evaluate_dialogues

    seed_ids = {a.id for a in index.articles if not a.id.startswith("squad/")}
    parts = [
        ("all", dialogues),
        ("seed article", [d for d in dialogues if d.article in seed_ids]),
        ("SQuAD paragraphs", [d for d in dialogues if d.article not in seed_ids]),
    ]
    for name, part in parts:
        if part:
            emit(f"{name} ({len(part)} dialogues):\n{evaluate_dialogues(index, part).table()}")


def _cache_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--cache-dir", help=f"where the saved index is kept (default: ${CACHE_ENV}, else the user's cache folder)"
    )
    command.add_argument("--no-cache", action="store_true", help="build from the articles; neither read nor save")


def _lexical_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--lexical", action="store_true", help="rank by words only, without sentence vectors (as SEMANTIC=off)"
    )


def add_commands(commands: Any) -> None:
    """Add ask, index, eval and add to the `qa-bot` sub-command parser (argparse's subparsers action)."""
    ask = commands.add_parser("ask", help="answer questions from the articles")
    ask.add_argument("--seeds", help="articles folder (default: $SEEDS_DIR, else ./seeds)")
    ask.add_argument("-k", type=int, default=DEFAULT_HITS, help=f"passages per question (default: {DEFAULT_HITS})")
    ask.add_argument("--json", action="store_true", help="one JSON object per question, one per line")
    _cache_options(ask)
    _lexical_option(ask)
    ask.add_argument("question", nargs="*", help="questions; with none, one per line of standard input")
    ask.set_defaults(run=cmd_ask)

    build = commands.add_parser("index", help="build the index and report what was indexed")
    build.add_argument("--seeds", help="articles folder (default: $SEEDS_DIR, else ./seeds)")
    _cache_options(build)
    _lexical_option(build)
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
    _lexical_option(squad)
    squad.add_argument("--cache-dir", help="where SQuAD's sentence vectors are kept (default: as the saved index)")
    squad.set_defaults(run=cmd_eval)
    talks = benchmarks.add_parser("dialogues", help="follow-up questions: second-turn R@1 with and without context")
    talks.add_argument("path", help="a dialogue file (tests/data/dialogues.json)")
    talks.add_argument("--seeds", help="articles indexed with the file's (default: $SEEDS_DIR, else ./seeds)")
    _lexical_option(talks)
    talks.set_defaults(run=cmd_eval_dialogues)

    add = commands.add_parser(
        "add", help="add articles (.txt, .md, .html news pages, or the links of news pages) to the seeds folder"
    )
    add.add_argument("--seeds", help="articles folder (default: $SEEDS_DIR, else ./seeds)")
    add.add_argument("--title", help="the article's title (default: from the file or page)")
    add.add_argument("--date", help="its date, YYYY-MM-DD (default: from the file or page)")
    add.add_argument("--url", help="its link (default: from the file or page)")
    add.add_argument("--replace", action="store_true", help="replace an article file of the same name")
    add.add_argument("file", nargs="+", help="the files to add, or the http(s) links of news pages to fetch")
    add.set_defaults(run=cmd_add)
