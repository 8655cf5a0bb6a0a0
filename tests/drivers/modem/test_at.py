"""The AT session on byte vectors: replies, errors, URCs in the middle, echo, the CMGS prompt, timeouts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.modem.at import CTRL_Z, ESC, MAX_LINE, AtSession, Command, Reply, Urc, Write

CSQ = Command("AT+CSQ")
PDU = "0011000D91683108108300F00008A70A4F60597DFF0C4E16754C"
CMGS = Command("AT+CMGS=25", timeout_s=60.0, body=PDU, prompt_s=5.0)


def started(cmd: Command = CSQ, now: float = 0.0) -> AtSession:
    s = AtSession()
    assert s.command(cmd, now) == cmd.line.encode() + b"\r"
    return s


def test_reply_with_information_line() -> None:
    s = started()
    [reply] = s.feed(b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n", 0.1)
    assert reply == Reply(CSQ, ("+CSQ: 20,99",), "OK")
    assert reply.ok and reply.info() == ["20,99"] and not s.busy


def test_reply_fed_one_byte_at_a_time() -> None:
    s = started()
    events = [e for b in b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n" for e in s.feed(bytes([b]), 0.1)]
    assert events == [Reply(CSQ, ("+CSQ: 20,99",), "OK")]


def test_echo_is_dropped() -> None:
    """Before ATE0 the modem echoes the command line, ended by CR alone."""
    s = started()
    assert s.feed(b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n", 0.1) == [Reply(CSQ, ("+CSQ: 20,99",), "OK")]


@pytest.mark.parametrize(("data", "result", "code", "detail"), [
    (b"\r\nERROR\r\n", "ERROR", None, ""),
    (b"\r\n+CMS ERROR: 330\r\n", "+CMS ERROR", 330, "330"),
    (b"\r\n+CME ERROR: 10\r\n", "+CME ERROR", 10, "10"),
    (b"\r\n+CME ERROR: SIM not inserted\r\n", "+CME ERROR", None, "SIM not inserted"),  # AT+CMEE=2
    (b"\r\nNO CARRIER\r\n", "ERROR", None, "NO CARRIER"),
])
def test_final_errors(data: bytes, result: str, code: int | None, detail: str) -> None:
    s = started()
    [reply] = s.feed(data, 0.1)
    assert (reply.result, reply.code, reply.detail, reply.ok) == (result, code, detail, False)


def test_urc_in_the_middle_of_a_reply_is_reported_apart() -> None:
    s = started(Command("AT+CMGL=4"))
    events = s.feed(b'\r\n+CMGL: 0,0,,22\r\n0791\r\n\r\n+CMTI: "SM",3\r\n'
                    b"\r\n+CMGL: 1,1,,22\r\n0792\r\n\r\nOK\r\n", 0.1)
    assert events == [Urc('+CMTI: "SM",3'),
                      Reply(Command("AT+CMGL=4"), ("+CMGL: 0,0,,22", "0791", "+CMGL: 1,1,,22", "0792"), "OK")]
    assert events[0].name == "+CMTI" and events[0].value == '"SM",3'


def test_the_commands_own_prefix_is_its_answer_even_if_it_can_be_a_urc() -> None:
    creg = Command("AT+CREG?")
    s = started(creg)
    assert s.feed(b"\r\n+CREG: 0,1\r\n\r\nOK\r\n", 0.1) == [Reply(creg, ("+CREG: 0,1",), "OK")]
    assert s.feed(b"\r\n+CREG: 2\r\n", 0.2) == [Urc("+CREG: 2")]  # idle: unsolicited


def test_boot_banner_while_idle_is_urcs_and_a_stray_ok_is_dropped() -> None:
    s = AtSession()
    assert s.feed(b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\nOK\r\n", 0.0) == [Urc("RDY"), Urc("+CFUN: 1")]
    assert s.stray == 1


def test_two_line_urc_carries_its_pdu() -> None:
    s = started()  # even while a command is pending, the line after +CMT is its PDU
    events = s.feed(b"\r\n+CMT: ,24\r\n07917283010010F5040B\r\n\r\n+CSQ: 9,99\r\n\r\nOK\r\n", 0.1)
    assert events == [Urc("+CMT: ,24", "07917283010010F5040B"), Reply(CSQ, ("+CSQ: 9,99",), "OK")]


def test_cmgs_prompt_gets_the_pdu_then_the_reference() -> None:
    s = started(CMGS)
    assert s.feed(b"\r\n> ", 0.1) == [Write(PDU.encode() + CTRL_Z)]
    [reply] = s.feed(b"\r\n+CMGS: 12\r\n\r\nOK\r\n", 2.0)
    assert reply.ok and reply.info() == ["12"]


def test_cmgs_prompt_after_echo_even_without_its_space() -> None:
    s = started(CMGS)
    assert s.feed(b"AT+CMGS=25\r\r\n>", 0.1) == [Write(PDU.encode() + CTRL_Z)]
    assert s.feed(b" \r\n+CMGS: 7\r\n\r\nOK\r\n", 0.2)[0].info() == ["7"]  # type: ignore[union-attr]


def test_cmgs_refused_before_the_prompt() -> None:
    s = started(CMGS)
    [reply] = s.feed(b"\r\n+CMS ERROR: 310\r\n", 0.1)
    assert (reply.result, reply.code) == ("+CMS ERROR", 310)


def test_missing_prompt_times_out_and_is_cancelled_with_esc() -> None:
    s = started(CMGS, now=100.0)
    assert s.expire(104.9) == []
    assert s.expire(105.0) == [Write(ESC), Reply(CMGS, (), "timeout")]
    assert not s.busy


def test_after_the_prompt_the_network_gets_the_full_timeout() -> None:
    s = started(CMGS, now=100.0)
    s.feed(b"\r\n> ", 101.0)
    assert s.expire(160.9) == []
    assert s.expire(161.0) == [Reply(CMGS, (), "timeout")]  # no ESC: the PDU is already gone


def test_plain_timeout() -> None:
    s = started(now=0.0)
    s.feed(b"\r\n+CSQ: 20,99\r\n", 1.0)
    assert s.expire(5.0) == [Reply(CSQ, ("+CSQ: 20,99",), "timeout")]
    assert s.feed(b"\r\nOK\r\n", 6.0) == [] and s.stray == 1  # the late answer is not the next command's


def test_one_command_at_a_time() -> None:
    s = started()
    with pytest.raises(RuntimeError):
        s.command(CSQ, 0.0)


def test_overlong_line_is_dropped_and_the_session_recovers() -> None:
    s = started()
    assert s.feed(b"x" * (MAX_LINE + 1), 0.1) == []
    assert s.overlong == 1
    assert s.feed(b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n", 0.2) == [Reply(CSQ, ("+CSQ: 20,99",), "OK")]


def test_line_noise_bytes_do_not_crash() -> None:
    s = started()
    events = s.feed(b"\r\n\xff\xfe\x00junk\r\n\r\nOK\r\n", 0.1)
    assert [e.result for e in events if isinstance(e, Reply)] == ["OK"]


def test_reset_forgets_the_pending_command() -> None:
    s = started()
    s.feed(b"\r\n+CSQ: 2", 0.1)
    s.reset()
    assert not s.busy and s.feed(b"0,99\r\n", 0.2) == [Urc("0,99")]


@given(st.binary(max_size=3000), st.sampled_from([None, CSQ, CMGS]))
def test_any_bytes_never_raise_and_stay_bounded(data: bytes, cmd: Command | None) -> None:
    s = AtSession()
    if cmd is not None:
        s.command(cmd, 0.0)
    for i in range(0, len(data), 7):
        s.feed(data[i:i + 7], 0.1)
    assert len(s._buf) <= MAX_LINE
    s.expire(1000.0)
    assert not s.busy
