"""Discord faults through the local fake, against the real bot (issue 7, 'Discord faults').

Every test checks the same three things: the user still gets an answer (or the
fault is logged with the question when no answer can get through), nothing
escapes into the event loop (a recording loop exception handler, and no
'unhandled error' log), and, when the fault is repeated many times in a row,
the bot's memory and asyncio task count stay flat.

discord.py's backoff after a 5xx is 1, 3, 5, 7, 9 s, and it waits 5 s before
identifying again after a lost session. The tests that repeat those faults
shrink only those waits (``fast_backoff``, ``fast_identify``); rate-limit
waits are never shrunk, so "waits as told" is measured for real.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import re
import time
import tracemalloc
import types
from collections import Counter, deque
from typing import Any

import discord
import discord.http
import discord.webhook.async_
import pytest

from fake_discord.harness import assert_all_payloads_safe, fake, run_bot  # noqa: F401

QUESTION = "Who paid for Alice Johnson's legal team?"
CHANNEL_MSG = r"^/channels/\d+/messages$"

# What discord.py 2.7 does with each gateway close code (gateway.py, DiscordWebSocket._can_handle_close):
# everything except these reconnects and RESUMEs; a remote 1000 is an "improper close" and resumes too.
NOT_RESUMABLE = (4004, 4010, 4011, 4012, 4013, 4014)
RESUMABLE = (1000, 1001, 1011, 1012, 1013, 1014, 4000, 4001, 4002, 4003, 4005, 4006, 4007, 4008, 4009)
# Discord ends the session itself for these, so the RESUME discord.py always tries is refused and it identifies.
SESSION_ENDED = (4007, 4009)


# -- watching for errors --------------------------------------------------------------------------


class Watch(logging.Handler):
    """Counts log records (kept bounded) and every exception that reaches the event loop."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.levels: Counter[int] = Counter()
        self.messages: deque[str] = deque(maxlen=200)
        self.found: Counter[str] = Counter()
        self.loop_errors: list[dict[str, Any]] = []
        self.patterns: dict[str, re.Pattern[str]] = {}

    def expect(self, name: str, pattern: str) -> None:
        """Count log lines matching ``pattern`` under ``name``."""
        self.patterns[name] = re.compile(pattern, re.S)

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" [{type(record.exc_info[1]).__name__}: {record.exc_info[1]}]"
        self.levels[record.levelno] += 1
        self.messages.append(f"{record.levelname} {record.name}: {text}")
        for name, pattern in self.patterns.items():
            if pattern.search(text):
                self.found[name] += 1

    def loop_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.loop_errors.append(context)

    def unhandled(self) -> list[str]:
        gc.collect()  # "Task exception was never retrieved" is reported when the task is collected
        out = [f"loop: {c.get('message')} {c.get('exception')!r}" for c in self.loop_errors]
        out += [m for m in self.messages if "unhandled error in" in m or "Ignoring exception" in m]
        return out

    def assert_clean(self) -> None:
        problems = self.unhandled()
        assert not problems, "\n".join(problems)


@pytest.fixture
async def watch():
    """Log records and loop exceptions during the test; at the end, none may be an unhandled error."""
    w = Watch()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(w)
    root.setLevel(logging.INFO)
    loop = asyncio.get_running_loop()
    old_handler = loop.get_exception_handler()
    loop.set_exception_handler(w.loop_handler)
    try:
        yield w
        w.assert_clean()
    finally:
        root.removeHandler(w)
        root.setLevel(old_level)
        loop.set_exception_handler(old_handler)


# -- shrinking discord.py's long fixed waits (only those) -------------------------------------------


class _ScaledAsyncio(types.ModuleType):
    """``asyncio`` for discord.py's HTTP modules, with the 5xx backoff (whole seconds >= 1) 100 times shorter."""

    def __init__(self) -> None:
        super().__init__("asyncio")
        self.slept: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        self.slept.append(delay)
        if delay >= 1 and float(delay).is_integer():
            delay /= 100
        return await asyncio.sleep(delay, result)


@pytest.fixture
def fast_backoff(monkeypatch):
    scaled = _ScaledAsyncio()
    monkeypatch.setattr(discord.http, "asyncio", scaled)
    monkeypatch.setattr(discord.webhook.async_, "asyncio", scaled)
    return scaled


def fast_identify(bot: discord.Client) -> None:
    """Skip the 5 s discord.py waits before identifying again (one test keeps the real wait)."""
    async def no_wait(shard_id: int | None, *, initial: bool = False) -> None:
        return None
    bot.before_identify_hook = no_wait  # type: ignore[method-assign]


# -- asking ---------------------------------------------------------------------------------------------


async def ask(fake, *, user=None, timeout: float = 10, **where: Any) -> dict[str, Any]:
    """/ask as ``user``; the message the user finally sees."""
    return await fake.answer_to(await fake.slash("ask", question=QUESTION, user=user, **where), timeout=timeout)


async def assert_answered(fake, **kw: Any) -> None:
    msg = await ask(fake, **kw)
    assert msg["embeds"] and msg["embeds"][0]["fields"], msg


async def ask_by_message(fake, *, after: int | None = None, **kw: Any):
    """A question in #general mentioning the bot; the bot's (successful) reply request."""
    mark = fake.mark() if after is None else after
    asked = await fake.message(QUESTION, mention_bot=True, **kw)
    return asked, await fake.wait_for("POST", CHANNEL_MSG, after=mark, where=lambda r: r.status == 200, timeout=10)


# -- flatness ----------------------------------------------------------------------------------------------


# Allocations that are the test's own bookkeeping, not the bot's: log records pytest keeps, the fake.
_NOT_THE_BOT = [tracemalloc.Filter(False, pattern) for pattern in (
    logging.__file__, "*/traceback.py", "*/linecache.py", "*/_pytest/*", "*/tests/*", tracemalloc.__file__,
    "*/re/_*.py", "*/re/__init__.py")]  # and re's cache (bounded), filled by the fake's per-request patterns


def _snapshot() -> tuple[int, tracemalloc.Snapshot]:
    # pytest keeps every log record of the test, with its exception, traceback and so every frame's
    # locals (payloads, answers): a production log handler keeps none of that. Drop them, like the fake's.
    for handler in logging.getLogger().handlers:
        if type(handler).__name__ == "LogCaptureHandler":
            handler.reset()
    for _ in range(3):
        gc.collect()
    # The fake's server tasks (one per keep-alive connection the bot holds) are not the bot's.
    bots = [t for t in asyncio.all_tasks() if _coro_name(t) != "RequestHandler.start"]
    return len(bots), tracemalloc.take_snapshot().filter_traces(_NOT_THE_BOT)


async def assert_flat(fake, bot, one_round, *, rounds: int, warmup: int = 3, max_bytes: int = 150_000,
                      max_tasks: int = 1) -> dict[str, float]:
    """Run ``one_round`` ``warmup`` times, then ``rounds`` times in two halves while tracing allocations.

    The memory still held (the fake's and pytest's records dropped) must not grow in the second half,
    when every cache has had the first half to fill, and the task count must not grow at all.
    """
    for i in range(warmup):
        await one_round(i)
    await _settle(fake, ready=True)
    fake.forget()
    tracemalloc.start(1)
    try:
        tasks = [0, 0, 0]
        mem: list[tracemalloc.Snapshot] = []
        tasks[0], snap = _snapshot()
        mem.append(snap)
        started = time.perf_counter()
        half = rounds // 2
        for n, (a, b) in enumerate(((0, half), (half, rounds)), start=1):
            for i in range(a, b):
                await one_round(warmup + i)
            await _settle(fake, ready=True)
            fake.forget()
            tasks[n], snap = _snapshot()
            mem.append(snap)
        elapsed = time.perf_counter() - started - 0.2  # less the two settling pauses
    finally:
        tracemalloc.stop()
    first = sum(d.size_diff for d in mem[1].compare_to(mem[0], "lineno"))
    diff = mem[2].compare_to(mem[1], "lineno")
    second = sum(d.size_diff for d in diff)
    if second > max_bytes or os.environ.get("SHOW_GROWTH"):
        print("\n".join(map(str, diff[:15])))
    assert tasks[2] - tasks[0] <= max_tasks, (tasks, _task_names())
    assert second <= max_bytes, f"{second} bytes more held after rounds {half}-{rounds} (first half: {first})"
    return {"rounds": rounds, "tasks_before": tasks[0], "tasks_after": tasks[2], "first": first, "second": second,
            "seconds": elapsed}


async def _settle(fake, ready: bool = False) -> None:
    """Until no request arrives for a moment (the bot finished its last replies); with ``ready``, until
    discord.py's READY timer after each IDENTIFY (``guild_ready_timeout``, 2 s) has run out too."""
    last = -1
    while fake.mark() != last:
        last = fake.mark()
        with contextlib.suppress(TimeoutError):
            await fake.wait_for(after=last, timeout=0.1)
    if ready:
        def timers_done() -> bool:
            return not any(_coro_name(t) == "ConnectionState._delay_ready" for t in asyncio.all_tasks())
        await fake.wait_until(timers_done, timeout=5, what="READY timers done")


def _coro_name(task: asyncio.Task) -> str:
    return getattr(task.get_coro(), "__qualname__", "?")


def _task_names() -> list[str]:
    return sorted(f"{t.get_name()}:{_coro_name(t)}" for t in asyncio.all_tasks())


# -- the gateway --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", RESUMABLE)
async def test_resumable_close_code_resumes_and_answers(fake, tmp_path, watch, code):
    async with run_bot(fake, tmp_path) as bot:
        fast_identify(bot)
        await fake.close_gateway(code, forget_session=code in SESSION_ENDED)
        if code in SESSION_ENDED:  # RESUME refused (INVALID_SESSION), then a new IDENTIFY
            await fake.wait_ready(identifies=2)
        else:
            await fake.wait_until(lambda: fake.resumes == 1, timeout=10, what="RESUME")
            assert fake.identifies == 1
        await assert_answered(fake)


async def test_abnormal_close_1006_resumes_and_answers(fake, tmp_path, watch):
    async with run_bot(fake, tmp_path):
        await fake.drop_gateway()  # 1006 is never sent; it is what a connection cut without a close frame reads as
        await fake.wait_until(lambda: fake.resumes == 1, timeout=10, what="RESUME")
        await assert_answered(fake)


@pytest.mark.parametrize("resumable", [True, False])
async def test_invalid_session_resumes_or_identifies_again(fake, tmp_path, watch, resumable):
    async with run_bot(fake, tmp_path) as bot:
        fast_identify(bot)
        await fake.invalid_session(resumable=resumable)
        if resumable:
            await fake.wait_until(lambda: fake.resumes == 1, timeout=10, what="RESUME")
            assert fake.identifies == 1
        else:
            await fake.wait_ready(identifies=2)
        await assert_answered(fake)


@pytest.mark.parametrize("code", [c for c in NOT_RESUMABLE if c != 4014])
async def test_fatal_close_code_is_one_line_and_exit_2(fake, tmp_path, capsys, code):
    async with run_bot(fake, tmp_path) as bot:
        await fake.close_gateway(code)
        exit_code = await asyncio.wait_for(bot.serve_task, 10)
    err = capsys.readouterr().err
    assert exit_code == 2 and err.count("\n") == 1 and f"closed the gateway with {code}" in err, err


async def test_fatal_close_code_4014_names_the_intent(fake, tmp_path, capsys):
    async with run_bot(fake, tmp_path, threads=True) as bot:
        await fake.close_gateway(4014)
        exit_code = await asyncio.wait_for(bot.serve_task, 10)
    err = capsys.readouterr().err
    assert exit_code == 2 and err.count("\n") == 1 and "Message Content intent" in err, err


# -- REST faults, once each, timed for real ---------------------------------------------------------------


async def test_route_rate_limit_is_waited_out_as_told(fake, tmp_path, watch):
    async with run_bot(fake, tmp_path):
        fault = fake.rate_limit(r"/callback$", retry_after=0.3)
        inter = await fake.slash("ask", question=QUESTION)
        first = await fake.wait_for("POST", rf"^/interactions/{inter.id}/")
        retry = await fake.wait_for("POST", rf"^/interactions/{inter.id}/", count=2)
        assert (first.status, retry.status) == (429, 200) and fault.hits == 1
        assert retry.at - first.at >= 0.3 - 0.02
        assert retry.json["data"]["embeds"][0]["fields"]


async def test_global_rate_limit_holds_every_request_until_it_passes(fake, tmp_path, watch):
    async with run_bot(fake, tmp_path):
        fake.rate_limit(CHANNEL_MSG, retry_after=0.4, global_=True)
        await fake.message(QUESTION, mention_bot=True)
        limited = await fake.wait_for("POST", CHANNEL_MSG)
        inter = await fake.slash("ask", question=QUESTION)  # another route, asked during the global limit
        retry = await fake.wait_for("POST", CHANNEL_MSG, count=2)
        assert retry.status == 200 and retry.json["embeds"] and retry.at - limited.at >= 0.4 - 0.02
        # discord.py holds its other REST calls during a global limit; interaction callbacks go through
        # the webhook adapter, which has no global lock, so the /ask answer may come earlier: it comes.
        assert (await fake.answer_to(inter))["embeds"]


@pytest.mark.parametrize("status", [500, 502])
@pytest.mark.parametrize("where", ["callback", "message"])
async def test_server_error_is_retried_and_the_reply_arrives(fake, tmp_path, watch, fast_backoff, status, where):
    async with run_bot(fake, tmp_path):
        if where == "callback":
            fault = fake.server_error(r"/callback$", status=status, times=2)
            inter = await fake.slash("ask", question=QUESTION)
            reply = await fake.wait_for("POST", rf"^/interactions/{inter.id}/", count=3)
            assert reply.json["data"]["embeds"]
        else:
            fault = fake.server_error(CHANNEL_MSG, status=status, times=2)
            await fake.message(QUESTION, mention_bot=True)
            reply = await fake.wait_for("POST", CHANNEL_MSG, count=3)
            assert reply.json["embeds"]
        assert reply.status == 200 and fault.hits == 2
        # discord.py's backoff, 1 + 2 * tries seconds (shrunk here)
        assert [d for d in fast_backoff.slept if d >= 1] == [1, 3]


async def test_a_reply_that_finally_fails_is_logged_with_the_question(fake, tmp_path, watch, fast_backoff):
    watch.expect("ask", rf"/ask failed .*{re.escape(QUESTION)}")
    watch.expect("message", rf"could not answer message .*{re.escape(QUESTION)}")
    async with run_bot(fake, tmp_path):
        fault = fake.server_error(r"/callback$|" + CHANNEL_MSG, times=None)
        await fake.slash("ask", question=QUESTION)
        await fake.message(QUESTION, mention_bot=True)
        await fake.wait_until(lambda: watch.found["ask"] == 1 and watch.found["message"] == 1, timeout=15,
                              what="both failures logged")
        await _settle(fake)  # the "sorry" notes fail too, and are logged as warnings
        fake.faults.remove(fault)
        assert fault.hits >= 10
        await assert_answered(fake)
        await ask_by_message(fake)


async def test_expired_interaction_is_one_log_line(fake, tmp_path, watch):
    watch.expect("expired", rf"expired.*{re.escape(QUESTION)}")
    async with run_bot(fake, tmp_path):
        faults = fake.expire_interactions(times=1)
        inter = await fake.slash("ask", question=QUESTION)
        await fake.wait_until(lambda: watch.found["expired"] >= 1, what="log line")
        await _settle(fake)
        assert faults[0].hits == 1 and len(fake.find("POST", rf"^/interactions/{inter.id}/")) == 1
        await assert_answered(fake)


async def test_message_deleted_before_the_reply(fake, tmp_path, watch):
    async with run_bot(fake, tmp_path, threads=True):
        asked = await fake.message(QUESTION, mention_bot=True)
        await fake.delete_message(asked)  # before the bot could answer: the answer takes a thread hop
        # No thread can hang off a deleted message; the answer goes to the channel, without the reply link.
        reply = await fake.wait_for("POST", CHANNEL_MSG)
        assert reply.status == 200 and reply.json["embeds"]
        assert "message_reference" not in fake.messages[last_bot_message(fake)]
        await ask_by_message(fake)


def last_bot_message(fake) -> int:
    return max(mid for mid, m in fake.messages.items() if m["author"]["id"] == str(fake.app_id))


async def test_reply_refused_because_the_message_is_gone_is_logged(fake, tmp_path, watch):
    watch.expect("gone", r"could not (reply|answer)")
    async with run_bot(fake, tmp_path):
        fake.unknown_message(times=1)  # as Discord answers a reply to a deleted message that must exist
        await fake.message(QUESTION, mention_bot=True)
        await fake.wait_until(lambda: watch.found["gone"] >= 1, what="log line")
        await ask_by_message(fake)


@pytest.mark.parametrize("kind", ["send", "embed"])
async def test_no_permission_in_a_channel_is_one_log_line(fake, tmp_path, watch, kind):
    watch.expect("perm", r"no permission to reply")
    async with run_bot(fake, tmp_path):
        # Without Send Messages, or without Embed Links for the answer's embed: both are 403 50013.
        fault = fake.forbid(CHANNEL_MSG, times=None, method="POST") if kind == "send" else \
            fake.fail(CHANNEL_MSG, 403, {"message": "Missing Permissions", "code": 50013}, method="POST", times=None)
        mark = fake.mark()
        await fake.message(QUESTION, mention_bot=True)
        await fake.wait_until(lambda: watch.found["perm"] == 1, what="log line")
        await _settle(fake)
        assert len(fake.find("POST", CHANNEL_MSG, after=mark)) == 1  # no retry storm, no error message attempt
        fake.faults.remove(fault)
        await ask_by_message(fake)
        await assert_answered(fake)
        assert_all_payloads_safe(fake)


# -- each fault many times in a row: nothing lost, memory and tasks flat ----------------------------------

REPORT: dict[str, dict[str, float]] = {}  # printed with -s, for benchmarks/RESULTS.md (Reliability)


def _report(name: str, injected: int, figures: dict[str, float]) -> None:
    REPORT[name] = {"injected": injected, **figures}
    print(f"\nreliability: {name}: {injected} faults injected ({figures['rounds']} measured), answers lost 0, "
          f"tasks {figures['tasks_before']} -> {figures['tasks_after']}, memory held: first half "
          f"{figures['first'] / 1024:+.0f} KiB, second half {figures['second'] / 1024:+.0f} KiB, "
          f"{figures['seconds']:.1f} s")


async def test_gateway_faults_repeated_memory_and_tasks_flat(fake, tmp_path, watch):
    """Every resumable close code, a cut connection, both invalid sessions and a reconnect request, in turn."""
    kinds = [("close", c) for c in RESUMABLE] + [("drop", None), ("invalid", True), ("invalid", False),
                                                  ("reconnect", None)]
    async with run_bot(fake, tmp_path, cooldown_per=0.5) as bot:
        fast_identify(bot)

        async def one_round(i: int) -> None:
            kind, arg = kinds[i % len(kinds)]
            sessions = (fake.identifies, fake.resumes)
            if kind == "close":
                await fake.close_gateway(arg, forget_session=arg in SESSION_ENDED)
            elif kind == "drop":
                await fake.drop_gateway()
            elif kind == "reconnect":
                await fake.request_reconnect()
            else:
                await fake.invalid_session(resumable=arg)
            await fake.wait_until(lambda: (fake.identifies, fake.resumes) != sessions and fake.ws is not None
                                  and not fake.ws.closed, timeout=10, what=f"{kind} {arg}: back")
            await assert_answered(fake, user=fake.user())

        rounds = 2 * len(kinds)
        _report("gateway (15 close codes, drop, invalid session x2, reconnect)", rounds,
                await assert_flat(fake, bot, one_round, rounds=rounds, warmup=len(kinds)))
        assert fake.identifies + fake.resumes >= 3 * len(kinds)


def _rest_faults(fake, watch):
    """Each REST fault as one round: inject, ask, check the answer arrived (or the log line was written)."""
    watch.expect("expired", "expired before the answer")
    watch.expect("perm", "no permission to reply")
    watch.expect("failed", rf"could not answer message .*{re.escape(QUESTION)}")

    async def rate_limit_route(i):
        fault = fake.rate_limit(r"/callback$", retry_after=0.02)
        await assert_answered(fake, user=fake.user())
        return fault.hits

    async def rate_limit_global(i):
        fault = fake.rate_limit(CHANNEL_MSG, retry_after=0.02, global_=True)
        await ask_by_message(fake, user=fake.user())
        return fault.hits

    async def server_error(i):
        fault = fake.server_error(r"/callback$" if i % 2 else CHANNEL_MSG, status=(500, 502)[i // 2 % 2])
        if i % 2:
            await assert_answered(fake, user=fake.user())
        else:
            await ask_by_message(fake, user=fake.user())
        return fault.hits

    async def expired(i):
        before = watch.found["expired"]
        faults = fake.expire_interactions(times=1)
        await fake.slash("ask", question=QUESTION, user=fake.user())
        await fake.wait_until(lambda: watch.found["expired"] > before, what="expired log line")
        fake.faults.remove(faults[1])
        return faults[0].hits

    async def forbidden(i):
        before = watch.found["perm"]
        fault = fake.forbid(CHANNEL_MSG, method="POST")
        await fake.message(QUESTION, mention_bot=True, user=fake.user())
        await fake.wait_until(lambda: watch.found["perm"] > before, what="permission log line")
        return fault.hits

    async def deleted(i):
        mark = fake.mark()
        asked = await fake.message(QUESTION, mention_bot=True, user=fake.user())
        await fake.delete_message(asked)
        await fake.wait_for("POST", CHANNEL_MSG, after=mark, where=lambda r: r.status == 200)
        return 1

    async def finally_fails(i):
        before = watch.found["failed"]
        fault = fake.server_error(CHANNEL_MSG, times=None)
        await fake.message(QUESTION, mention_bot=True, user=fake.user())
        await fake.wait_until(lambda: watch.found["failed"] > before, timeout=10, what="failure log line")
        await _settle(fake)
        fake.faults.remove(fault)
        return 1

    return {"429 route": rate_limit_route, "429 global": rate_limit_global, "500/502": server_error,
            "expired interaction": expired, "missing permission": forbidden, "message deleted": deleted,
            "reply finally fails (5xx x5)": finally_fails}


@pytest.mark.parametrize("name,rounds", [("429 route", 40), ("429 global", 40), ("500/502", 40),
                                         ("expired interaction", 40), ("missing permission", 40),
                                         ("message deleted", 40), ("reply finally fails (5xx x5)", 8)])
async def test_rest_fault_repeated_memory_and_tasks_flat(fake, tmp_path, watch, fast_backoff, name, rounds):
    async with run_bot(fake, tmp_path, cooldown_per=0.5) as bot:
        fault_round = _rest_faults(fake, watch)[name]
        injected = 0

        async def one_round(i: int) -> None:
            nonlocal injected
            injected += await fault_round(i)

        figures = await assert_flat(fake, bot, one_round, rounds=rounds)
        fake.faults.clear()
        await assert_answered(fake, user=fake.user())  # and the bot still answers afterwards
        _report(name, injected, figures)


# -- abuse: a flooding user, admin commands ------------------------------------------------------------------


async def test_a_flooding_user_cannot_starve_another(fake, tmp_path, watch):
    """One user floods /ask and plain questions in two channels and in DMs; another keeps being answered.
    The cooldown is per user, wherever they ask: the flooder gets exactly ``cooldown_rate`` answers."""
    async with run_bot(fake, tmp_path, cooldown_rate=3, cooldown_per=60.0):
        flooder, other = fake.user("flooder"), fake.user("reader")
        places = [dict(channel_id=fake.channel_id), dict(channel_id=fake.other_channel_id), dict(dm=True)]
        mark = fake.mark()
        flood: list[Any] = []
        others: list[Any] = []
        for i in range(60):
            where = places[i % 3]
            if i % 2:
                flood.append(await fake.slash("ask", question=f"{QUESTION} #{i}", user=flooder, **where))
            else:
                await fake.message(f"{QUESTION} #{i}", user=flooder, mention_bot=not where.get("dm"), **where)
            if i % 20 == 0:
                others.append(await fake.slash("ask", question=QUESTION, user=other, **places[i // 20]))
        for inter in others:  # the other reader: answered every time, wherever
            msg = await fake.answer_to(inter, timeout=10)
            assert msg["embeds"] and msg["embeds"][0]["fields"], msg
        answers = notices = 0
        for inter in flood:
            msg = await fake.answer_to(inter, timeout=10)
            if msg.get("embeds"):
                answers += 1
            else:
                assert "asking faster than I can keep up" in msg["content"] and msg["flags"] & 64
                notices += 1
        await _settle(fake)
        replies = [r.json for r in fake.find("POST", CHANNEL_MSG, after=mark)]
        answers += sum(1 for r in replies if r.get("embeds"))
        message_notices = sum(1 for r in replies if "asking faster" in (r.get("content") or ""))
        assert answers == 3, (answers, notices, message_notices)  # across both channels and DMs
        assert notices >= len(flood) - 3  # every other /ask got the cooldown note (privately)
        assert message_notices <= 1  # plain messages get one notice per cooldown window, not one per message
        assert_all_payloads_safe(fake)


async def test_reload_is_refused_to_everyone_but_the_owner_and_the_role(fake, tmp_path, watch):
    """Discord shows /reload to anyone a server admin allows (default_permissions is only a default):
    the bot checks again, server-side, on every call."""
    watch.expect("refused", r"refused /reload")
    async with run_bot(fake, tmp_path, story=None, admin_role=fake.admin_role_id) as bot:
        before = bot.story
        other_role = 1234567890123
        tries = [dict(user=fake.user("mallory")), dict(user=fake.user("mod"), roles=[other_role]),
                 dict(user=fake.user("dm"), dm=True), dict(user=fake.user("guild-owner-lookalike"))]
        for n, who in enumerate(tries * 5, start=1):
            msg = await fake.answer_to(await fake.slash("reload", **who))
            assert msg["flags"] & 64 and "Only the bot's owner" in msg["content"]
            assert watch.found["refused"] == n
        assert bot.story is before
        msg = await fake.answer_to(await fake.slash("reload", user=fake.user("editor"), roles=[fake.admin_role_id]),
                                   timeout=20)
        assert "Reloaded the story" in msg["content"]


async def test_buttons_of_old_answers_keep_working_and_hold_nothing(fake, tmp_path, watch):
    """Buttons hold no state in the bot (DynamicItem): the first of many answers still pages, and an
    older storybot's custom id gets a short 'older version' note, not "This interaction failed"."""
    async with run_bot(fake, tmp_path) as bot:
        inters = []
        for _ in range(5):
            inters.append(await fake.slash("ask", question=QUESTION, user=fake.user()))
            await fake.answer_to(inters[-1])
        assert not bot._connection._view_store._views  # no view kept per answer
        old = await fake.click(fake.original(inters[0]), "storybot:more:")
        assert (await fake.response(old)).json["type"] == 7  # still pages
        legacy = fake.original(inters[1])  # as an older storybot sent it
        legacy["components"] = [{"type": 1, "components": [
            {"type": 2, "style": 2, "label": "More passages", "custom_id": "storybot:more:0123456789abcdef"}]}]
        msg = await fake.answer_to(await fake.click(legacy, "storybot:more:"))
        assert msg["flags"] & 64 and "older version" in msg["content"]


async def test_a_burst_is_acknowledged_in_time_and_fully_answered(fake, tmp_path, watch):
    """100 /ask at once from 100 people (the bot and the fake share this loop, so far fewer than
    benchmarks/load.py sends): each acknowledged within Discord's 3 s, each answered, nothing lost."""
    async with run_bot(fake, tmp_path):
        sent = {}
        for i in range(100):
            t0 = time.monotonic()
            inter = await fake.slash("ask", question=QUESTION, user=fake.user(f"reader{i}"))
            sent[inter.id] = (t0, inter)
        for iid, (t0, inter) in sent.items():
            callback = await fake.response(inter, timeout=10)
            assert callback.at - t0 < 3.0, f"interaction {iid} acknowledged after {callback.at - t0:.1f} s"
            assert (await fake.answer_to(inter, timeout=20))["embeds"]
        assert_all_payloads_safe(fake)
