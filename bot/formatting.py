"""Pure functions from search results to Discord messages, always within Discord's limits.

Every piece of text that did not come from us (questions, article text, titles, file names) is escaped,
so it renders as written and mentions nobody; anything too long is cut at a word boundary with "…".
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import discord

from bot.config import MAX_PASSAGES
from bot.feeds.poll import NewArticle
from bot.feeds.store import FeedRow
from bot.index_holder import ReloadReport
from index import (
    UNSAFE_CHARS,
    Added,
    Answer,
    Article,
    Hit,
    Passage,
    clean_text,
    counted,
    merge_overlapping,
    own_passage,
)

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
CONTENT_LIMIT = 2000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
CHOICE_NAME_LIMIT = 100
CHOICES_LIMIT = 25
THREAD_NAME_LIMIT = 100

ELLIPSIS = "…"
CONFIDENT_COLOUR = discord.Colour.green()
WEAK_COLOUR = discord.Colour.orange()
INFO_COLOUR = discord.Colour.blurple()
SOURCES_PER_PAGE = 10

NO_CONFIDENT_ANSWER = (
    "I found no confident answer in the articles. Try other words, or see `/sources` for what they cover."
)
NOTHING_MATCHES = (
    "Nothing in the articles matches that question. Try other words, or see `/sources` for what they cover."
)


# discord.py's escape_markdown leaves alone whatever its pattern takes for a URL, brackets included, so
# "https://a/[x](https://evil)" would still show as a masked link. Brackets inside such URLs are
# percent-encoded (the same address for a browser); everywhere else every "[" is escaped (escape_markdown
# escapes only the first of a run of links, its pattern being greedy). Its pattern is copied here (it is
# private to discord.py: `discord.utils._URL_REGEX` in 2.7.1), so that both passes agree on what is a URL;
# tests/bot/test_formatting.py fails if an upgrade changes it.
URL_PATTERN = r"""(?P<url><[^: >]+:\/[^ >]+>|(?:https?|steam):\/\/[^\s<]+[^<.,:;\"\'\]\s])"""
_URL_LIKE = re.compile(URL_PATTERN)
# A "[" after an even run of backslashes (escaped backslashes, or none) could still open a link.
_OPEN_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)\[")


def _encode_brackets(url: re.Match[str]) -> str:
    return url.group().replace("[", "%5B").replace("]", "%5D")


def escape(text: str) -> str:
    """Text from users or articles, shown as written: no markdown, no link, no mention, no control character."""
    text = clean_text(text, keep_lines=True)
    if "[" in text:  # the URL pattern is slow on long runs of "<" (discord.py pays it once more below)
        text = _URL_LIKE.sub(_encode_brackets, text)
    text = _OPEN_BRACKET.sub(r"\1\\[", discord.utils.escape_markdown(text))
    return discord.utils.escape_mentions(text)


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut at a word boundary and ended with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    room = limit - len(ELLIPSIS)
    cut = text.rfind(" ", 0, room + 1)
    # One enormous word: cut inside it, never leaving a dangling escape backslash.
    kept = text[:cut] if cut > 0 else text[:room]
    return kept.rstrip().rstrip("\\") + ELLIPSIS


def shorten_start(text: str, limit: int) -> str:
    """Like `shorten`, but keeps the end of `text` (context before a matched sentence)."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ""
    room = limit - len(ELLIPSIS)
    start = len(text) - room
    cut = text.find(" ", start - 1)
    if cut >= 0:
        return ELLIPSIS + text[cut + 1 :].lstrip()
    # One enormous word: cut inside it, but never just after a backslash, which would leave
    # what it escaped (a "[" opening a link, a "*") unescaped.
    while start < len(text) and text[start - 1] == "\\":
        start += 1
    return ELLIPSIS + text[start:].lstrip()


def _marked(passage: Passage, start: int, end: int) -> str:
    """passage.text[start:end], escaped, its marked sentences in bold."""
    text, parts, at = passage.text, [], start
    for mark_start, mark_end in passage.marks:
        if mark_start < start or mark_end > end:
            continue
        parts.extend([escape(text[at:mark_start].strip()), f"**{escape(text[mark_start:mark_end].strip())}**"])
        at = mark_end
    parts.append(escape(text[at:end].strip()))
    return " ".join(part for part in parts if part)


def passage_markdown(shown: Passage | Hit, limit: int) -> str:
    """The passage with its matched sentences in bold, in at most `limit` characters.

    The marked sentences are kept whole when they fit (from the first to the last, with what lies between);
    the context around them is trimmed first, evenly on both sides. When they do not fit together, the
    best hit's sentence alone is kept whole.
    """
    passage = own_passage(shown) if isinstance(shown, Hit) else shown
    if not passage.marks:
        return shorten(escape(passage.text.strip()), limit)
    text = passage.text
    start, end = passage.marks[0][0], passage.marks[-1][1]
    middle = _marked(passage, start, end)
    if len(middle) >= limit and len(passage.marks) > 1:
        return passage_markdown(own_passage(passage.best), limit)
    if len(middle) >= limit:
        sentence = escape(text[start:end].strip())
        bold = 4  # the two "**" markers
        return f"**{shorten(sentence, limit - bold)}**" if limit > bold + 1 else shorten(sentence, limit)
    before, after = escape(text[:start].strip()), escape(text[end:].strip())
    room = limit - len(middle)
    spaces = (1 if before else 0) + (1 if after else 0)
    room = max(0, room - spaces)
    half = room // 2
    before_room = half if len(after) > room - half else room - len(after)
    before = shorten_start(before, before_room)
    after = shorten(after, room - len(before))
    return " ".join(p for p in (before, middle, after) if p)


def _safe_url(url: str | None) -> str | None:
    # Only plain web links become clickable; anything else could break the markdown around it.
    if not url or not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
        return None
    if UNSAFE_CHARS.search(url):
        return None
    return url.replace("(", "%28").replace(")", "%29")


def sentence_numbers(numbers: Sequence[int]) -> str:
    """ "sentence 3", "sentences 3 and 5", "sentences 3, 5 and 6"."""
    if len(numbers) == 1:
        return f"sentence {numbers[0]}"
    return "sentences " + ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]}"


def citation(shown: Passage | Hit) -> str:
    """The line under a passage: the publisher when known, the date, the sentence numbers, and a link when the
    article has one. The article's title is the field's name, just above: together they are the citation."""
    passage = own_passage(shown) if isinstance(shown, Hit) else shown
    hit = passage.best
    parts = [escape(hit.source)] if hit.source else []
    parts.extend([escape(hit.date or "undated"), sentence_numbers(passage.marked)])
    url = _safe_url(hit.url)
    if url:
        parts.append(f"[link]({url})")
    return "— " + " · ".join(parts)


def _hit_field(name: str, passage: Passage, limit: int) -> tuple[str, str]:
    cite = citation(passage)
    if len(cite) > limit // 2:
        cite = shorten(cite, limit // 2)
    value = passage_markdown(passage, limit - len(cite) - 1) + "\n" + cite
    return shorten(name, FIELD_NAME_LIMIT), value


FOLLOWED_UP_CHARS = 200


def followed_up_line(previous: str) -> str:
    """The line that says which earlier question a follow-up was read with."""
    return f"*Following up on “{shorten(escape(' '.join(previous.split())), FOLLOWED_UP_CHARS)}”*"


def answer_embed(answer: Answer, *, followed_up: str | None = None, passages: int | None = None) -> discord.Embed:
    """An answer as one embed: the question, the short answer in bold when there is one, a field per passage.

    At most `passages` passages (default: one per hit); hits whose passages overlap share one
    (index.overlaps), so an answer asked for more hits than it shows fills the room with the next ones.
    When nothing is confident, it says so and shows at most the closest passage, marked as a weak match.
    `followed_up`, the previous question the answer was searched with, is named first.
    """
    title = shorten(escape(" ".join(answer.question.split())) or "?", EMBED_TITLE_LIMIT)
    shown: Sequence[Passage]
    if answer.confident:
        description = f"**{shorten(escape(answer.short_answer), 1000)}**" if answer.short_answer else ""
        wanted = min(len(answer.hits) if passages is None else passages, EMBED_FIELDS_LIMIT)
        shown = merge_overlapping(answer.hits, wanted)
        names = [
            f"{rank}. {p.best.title}" + ("" if p.best.confident else " (weak match)") for rank, p in enumerate(shown, 1)
        ]
        colour = CONFIDENT_COLOUR
    else:
        description = NO_CONFIDENT_ANSWER if answer.hits else NOTHING_MATCHES
        shown = [own_passage(hit) for hit in answer.hits[:1]]
        names = [f"Closest passage (weak match): {p.best.title}" for p in shown]
        colour = WEAK_COLOUR
    if followed_up is not None:
        description = followed_up_line(followed_up) + ("\n" + description if description else "")
    embed = discord.Embed(title=title, description=description or None, colour=colour)
    names = [shorten(escape(n), FIELD_NAME_LIMIT) for n in names]
    if shown:
        spare = EMBED_TOTAL_LIMIT - len(title) - len(description) - sum(len(n) for n in names)
        per_field = min(FIELD_VALUE_LIMIT, spare // len(shown))
        for name, passage in zip(names, shown, strict=True):
            field_name, value = _hit_field(name, passage, per_field)
            embed.add_field(name=field_name, value=value, inline=False)
    return embed


def page_count(total: int, per_page: int = SOURCES_PER_PAGE) -> int:
    return max(1, math.ceil(total / per_page))


def vectors_line(progress: tuple[int, int] | None) -> str:
    """How far the sentence vectors are, for the /sources footer."""
    if progress is None:
        return "answers by words only"
    ready, sentences = progress
    if ready >= sentences:
        return "answers by words and meaning"
    return f"meaning for {ready:,} of {counted(sentences, 'sentence')} so far"


def sources_embed(
    articles: Sequence[Article],
    page: int,
    per_page: int = SOURCES_PER_PAGE,
    vectors: tuple[int, int] | None = None,
) -> discord.Embed:
    """One page (0-based) of the indexed articles: title, date, sentences; the footer says how far the
    sentence vectors are (`vectors`: sentences with one, sentences; None when they are not used)."""
    pages = page_count(len(articles), per_page)
    page = min(max(page, 0), pages - 1)
    first = page * per_page
    lines = [
        shorten(
            f"**{n}.** {escape(a.title)} · {escape(a.date or 'undated')} · {counted(len(a.sentences), 'sentence')}",
            EMBED_DESCRIPTION_LIMIT // per_page,
        )
        for n, a in enumerate(articles[first : first + per_page], start=first + 1)
    ]
    embed = discord.Embed(
        title=f"Indexed articles ({len(articles):,})",
        description="\n".join(lines) or "No article is indexed.",
        colour=INFO_COLOUR,
    )
    embed.set_footer(text=f"Page {page + 1} of {pages} · {vectors_line(vectors)} · ask about them with /ask")
    return embed


def help_embed(cooldown_seconds: float) -> discord.Embed:
    embed = discord.Embed(
        title="What I do",
        description=(
            "I answer questions with passages from the news articles I have indexed. Every passage comes with "
            "its citation: the article, its date, the sentence number and a link when there is one. The sentence "
            "that matched your question is in **bold**."
        ),
        colour=INFO_COLOUR,
    )
    embed.add_field(
        name="How to ask",
        value=(
            f"• `/ask question:` your question; `passages:` how many passages (1 to {MAX_PASSAGES}); "
            "`article:` search one article only (start typing its title).\n"
            "• Mention me in a channel with your question, or send me a direct message.\n"
            "• In a direct message or a thread, a follow-up such as “who condemned it?” is read with your "
            "previous question (for 10 minutes); the answer says so. A mention in a channel may be answered in a "
            "new thread.\n"
            "• `/sources` lists the articles I know.\n"
            f"• One question every {cooldown_seconds:g} s per person."
        ),
        inline=False,
    )
    embed.add_field(
        name="Moderators",
        value=(
            "`/reload` re-reads the articles folder and says what changed.\n"
            "`/article add file:` adds a .txt, .md or .html (news page) file as an article and reloads; "
            "`/article add url:` fetches a news page from its link; "
            "`/article remove` moves one out of the index; `/article show` shows one's details.\n"
            "`/feed add url:` follows a news feed: its new articles are added as they appear; "
            "`/feed list` and `/feed remove` show and stop them.\n"
            "`/stats` shows what members asked, what went unanswered and how they rated the answers."
        ),
        inline=False,
    )
    return embed


def _names(label: str, names: Sequence[str], shown: int = 10) -> str:
    listed = ", ".join(escape(n) for n in names[:shown])
    more = f" and {len(names) - shown:,} more" if len(names) > shown else ""
    return f"{label} ({len(names):,}): {listed}{more}" if names else f"{label}: none"


def reload_message(report: ReloadReport) -> str:
    """What a /reload did, in one message within the content limit."""
    if report.error:
        text = (
            f"Reload failed, so I kept the previous index ({counted(report.articles, 'article')}, "
            f"{counted(report.sentences, 'sentence')}). Reason: {escape(report.error)}"
        )
        return shorten(text, CONTENT_LIMIT)
    changes = report.changes
    lines = [
        f"Reloaded in {report.seconds:.2f} s: now {counted(report.articles, 'article')}, "
        f"{counted(report.sentences, 'sentence')}.",
        _names("Added", changes.added),
        _names("Removed", changes.removed),
        _names("Changed", changes.changed),
    ]
    if report.skipped:
        shown = [f"{escape(s.path)} ({escape(s.reason)})" for s in report.skipped[:10]]
        more = f" and {len(report.skipped) - 10:,} more" if len(report.skipped) > 10 else ""
        lines.append(f"Skipped ({len(report.skipped):,}): " + "; ".join(shown) + more)
    if report.in_step:
        lines.insert(1, escape(report.in_step))
    return shorten("\n".join(lines), CONTENT_LIMIT)


RELOAD_BUSY = "A reload is already running: run /reload after it to serve this change."


def added_message(added: Added, report: ReloadReport | None) -> str:
    """The reply to /article add: the article as indexed, then the reload report."""
    verb = "Replaced" if added.replaced else "Added"
    line = (
        f"{verb} “{escape(added.title)}” ({escape(added.date or 'undated')}, {counted(added.sentences, 'sentence')}) "
        f"as `{added.name}`."
    )
    if report is None:
        return shorten(f"{line}\n{RELOAD_BUSY}", CONTENT_LIMIT)
    skipped = next((s for s in report.skipped if s.path == added.name), None)
    if skipped is not None:
        line += f" It was not indexed: {escape(skipped.reason)}."
    return shorten(f"{line}\n{reload_message(report)}", CONTENT_LIMIT)


def removed_message(article: Article, moved_to: str, report: ReloadReport | None) -> str:
    """The reply to /article remove: where the file went (to put it back), then the reload report."""
    line = (
        f"Removed “{escape(article.title)}”: `{article.id}` moved to `{moved_to}` "
        "(move it back into the seeds folder and /reload to restore it)."
    )
    return shorten(f"{line}\n{RELOAD_BUSY if report is None else reload_message(report)}", CONTENT_LIMIT)


SHOWN_SENTENCES = 3


def article_embed(article: Article) -> discord.Embed:
    """/article show: the article's metadata, file, sentence count and first sentences."""
    embed = discord.Embed(title=shorten(escape(article.title), EMBED_TITLE_LIMIT), colour=INFO_COLOUR)
    url = _safe_url(article.url)
    if url:
        embed.url = url
    details = [
        ("File", shorten(escape(article.id), FIELD_VALUE_LIMIT)),
        ("Date", escape(article.date or "undated")),
        ("Sentences", f"{len(article.sentences):,}"),
    ]
    if article.source:
        details.append(("Source", shorten(escape(article.source), FIELD_VALUE_LIMIT)))
    if url:
        details.append(("Link", shorten(url, FIELD_VALUE_LIMIT)))
    for name, value in details:
        embed.add_field(name=name, value=value, inline=True)
    first = " ".join(article.sentences[:SHOWN_SENTENCES])
    embed.description = shorten(escape(first), EMBED_DESCRIPTION_LIMIT - 2000)
    shown = min(SHOWN_SENTENCES, len(article.sentences))
    embed.set_footer(
        text="The first sentence is shown above." if shown == 1 else f"The first {shown} sentences are shown above."
    )
    return embed


def cooldown_message(retry_after: float) -> str:
    return f"You're asking too fast: try again in {max(1, math.ceil(retry_after))} s."


def choice_name(article: Article) -> str:
    """An autocomplete choice's label: the title and date, within 100 characters."""
    date, title = clean_text(article.date or ""), clean_text(article.title)
    suffix = shorten(f" · {date}", CHOICE_NAME_LIMIT // 2) if date else ""
    return shorten(title, CHOICE_NAME_LIMIT - len(suffix)) + suffix


def new_articles_messages(articles: Sequence[NewArticle], shown: int) -> list[str]:
    """FEED_ANNOUNCE_CHANNEL's posts after a poll: "New article: <title>" and its link, one message each
    (Discord previews the link), the ones past `shown` counted in a last line."""
    messages = []
    for article in articles[:shown]:
        url = _safe_url(article.url)
        line = f"New article: **{escape(article.title)}**" + (f"\n{url}" if url else "")
        messages.append(shorten(line, CONTENT_LIMIT))
    if len(articles) > shown:
        more = len(articles) - shown
        messages.append(f"…and {more:,} more new article{'' if more == 1 else 's'}: see `/sources`.")
    return messages


def feed_added_message(title: str | None, url: str, entries: int, max_new: int, minutes: float) -> str:
    name = f"“{escape(title)}”" if title else escape(url)
    return shorten(
        f"Following {name} ({entries:,} entr{'y' if entries == 1 else 'ies'} now): its newest articles are being "
        f"added (at most {max_new:,} a poll), then new ones about every {minutes:g} minutes.",
        CONTENT_LIMIT,
    )


def feeds_embed(feeds: Sequence[FeedRow]) -> discord.Embed:
    """/feed list: each feed, what it brought, how its last poll went and when the next one is due."""
    embed = discord.Embed(title=f"Feeds ({len(feeds):,})", colour=INFO_COLOUR)
    if not feeds:
        embed.description = "No feed is followed. Add one with `/feed add url:`."
        return embed
    lines = []
    for feed in feeds:
        name = escape(feed.title) if feed.title else escape(feed.url)
        polled = (
            f"last polled <t:{int(feed.polled_at)}:R>: {escape(feed.status or '')}"
            if feed.polled_at
            else ("not polled yet")
        )
        lines.append(
            f"**{name}** · {feed.articles:,} article{'' if feed.articles == 1 else 's'} · {polled} "
            f"Next poll <t:{int(feed.next_poll_at)}:R>.\n{escape(feed.url)}"
        )
    embed.description = shorten("\n\n".join(lines), EMBED_DESCRIPTION_LIMIT)
    return embed
