"""pytest plugin (entry point ``pytest11``): inert unless ``--tokencert-candidate`` is given.

With it, the session runs the conformance suite against the candidate: the plan is built
from the catalog, profile and declaration; tests marked ``@pytest.mark.requirement(ID)``
record measurements into the evidence directory; at the end the verdicts are computed from
that evidence and written to ``<out>/results.json``. Session state lives in
``config.stash``; the hooks are methods of :class:`TokencertPlugin` (the shape of pytest's
junitxml plugin). Any failure of a requirement test is ``inconclusive: check_error`` with
the traceback kept as evidence — tests record, they do not assert verdicts. Once the
verdicts are decided, each requirement becomes one pytest report (``tokencert::ID``,
conformance.pytest_plugin.verdict_view), so pytest's summary and exit status, and the JUnit
file of ``--tokencert-junit``, say what the verdicts say; the recording tests count as
"recorded".
"""

from __future__ import annotations

import traceback
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from conformance._core.errors import RunError, TokencertError
from conformance._core.redact import scrub
from conformance.plan.duration import expect_plan
from conformance.pytest_plugin.guard import CandidateUnreachable
from conformance.pytest_plugin.progress import PhaseProgress, real_stderr
from conformance.pytest_plugin.session import Options, Session
from conformance.pytest_plugin.state import MARKER, SESSION_KEY, requirement_ids
from conformance.pytest_plugin.verdict_view import SHOULD_FAILED, verdict_reports, verdict_summary
from conformance.run.evidence import Flag

PLUGIN_NAME = "tokencert-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("tokencert", "conformance run against a candidate service")
    g.addoption("--tokencert-candidate", metavar="PATH", default=None,
                help="candidate declaration (candidate.yaml); activates the plugin")
    g.addoption("--tokencert-profile", metavar="NAME", default="quick",
                help="run profile: quick, standard, certification, or a profile YAML path")
    g.addoption("--tokencert-out", metavar="DIR", default=None,
                help="run directory (evidence/ and results.json are written there)")
    g.addoption("--tokencert-only", metavar="PATTERN", default=None,
                help="requirement ids or globs, comma-separated (e.g. PERF-*,API-001)")
    g.addoption("--tokencert-resume", action="store_true", default=False,
                help="continue the run recorded in --tokencert-out")
    g.addoption("--tokencert-catalog", metavar="DIR", default=None,
                help="catalog directory (default: the packaged edition)")
    g.addoption("--tokencert-edition", metavar="NAME", default=None,
                help="published catalog edition (default: hqts-2026.1)")
    g.addoption("--tokencert-ray-address", metavar="ADDRESS", default=None,
                help="run the load phases on this Ray cluster (host:port, auto or local)")
    g.addoption("--tokencert-ray-workers", metavar="N", type=int, default=None,
                help="Ray load workers per phase (default: one per node)")
    g.addoption("--tokencert-no-preflight", action="store_true", default=False,
                help="skip the preflight (tokencert run has done it before starting pytest)")
    g.addoption("--tokencert-junit", metavar="PATH", default=None,
                help="write a JUnit XML file with one test case per requirement, "
                "decided by its verdict")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(*ids): the catalog requirement(s) this test provides evidence for")
    cand = config.getoption("tokencert_candidate")
    if not cand:
        return
    out = config.getoption("tokencert_out")
    if not out:
        raise pytest.UsageError("--tokencert-out DIR is required with --tokencert-candidate")
    cat = config.getoption("tokencert_catalog")
    opts = Options(Path(cand), str(config.getoption("tokencert_profile")), Path(out),
                   config.getoption("tokencert_only"), bool(config.getoption("tokencert_resume")),
                   Path(cat) if cat else None, config.getoption("tokencert_ray_address"),
                   config.getoption("tokencert_ray_workers"),
                   config.getoption("tokencert_edition"))
    try:
        session = Session.open(opts, preflight=not config.getoption("tokencert_no_preflight"))
    except RunError as exc:  # the preflight: the service cannot be measured (exit 3)
        pytest.exit(scrub(exc.render()), returncode=exc.exit_code)
    except TokencertError as exc:
        raise pytest.UsageError(scrub(exc.render())) from None
    config.stash[SESSION_KEY] = session
    plugin = TokencertPlugin(config, session)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    from conformance.pytest_plugin import fixtures

    config.pluginmanager.register(fixtures, "tokencert-fixtures")


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is not None:
        config.pluginmanager.unregister(plugin)


def other_editions_ids(edition: str) -> frozenset[str]:
    """Requirement ids of the other published editions: their tests are deselected in a
    run on ``edition`` (a suite serves every edition), never refused as unknown."""
    from conformance._core import resources
    from conformance.spec import load_edition

    return frozenset(rid for name in resources.editions() if name != edition
                     for rid in load_edition(name).ids)


class TokencertPlugin:
    def __init__(self, config: pytest.Config, session: Session) -> None:
        self.config = config
        self.session = session
        self.skipped: set[str] = set()
        self.untested: list[str] = []
        self.outcomes: dict[str, str] = {}
        self.outcomes_known: set[str] = set()  # requirement tests that ran
        self.results_path: Path | None = None
        self.doc: dict[str, Any] | None = None
        capman = config.pluginmanager.get_plugin("capturemanager")
        suspend = getattr(capman, "global_and_fixture_disabled", None)
        self.progress = PhaseProgress(
            suspend=suspend,
            expected=expect_plan(session.plan, session.declaration.performance))
        if self.progress.plain:  # configure time: pytest's capture is suspended now
            self.progress.plain_stream = real_stderr()
            self.progress.mid_line = self._mid_line
        session.progress = self.progress
        self.n_items = 0
        self.item_index = 0

    def _mid_line(self) -> bool:
        """Whether pytest's terminal line holds progress dots (pytest has no public API
        for it: read its writer's current line width where there is one)."""
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        tw = getattr(tr, "_tw", None)
        return bool(getattr(tw, "width_of_current_line", 0))

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.progress.start()  # the plain line's ticker (no terminal only)

    # -- collection ---------------------------------------------------------------------
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        s = self.session
        known = set(s.catalog.ids)
        other = other_editions_ids(s.catalog.edition)
        unknown = {rid: it.nodeid for it in items for rid in requirement_ids(it)
                   if rid not in known and rid not in other}
        if unknown:
            raise pytest.UsageError(
                "unknown requirement id(s) in @pytest.mark.requirement: "
                + ", ".join(f"{rid} ({node})" for rid, node in sorted(unknown.items()))
                + " — ids must exist in catalog " + s.catalog.edition)
        keep, drop = [], []
        for it in items:
            ids = requirement_ids(it)
            if ids and not any(r in known for r in ids):  # another edition's requirement
                drop.append(it)
                continue
            if ids and not any(s.plan.selected(r) for r in ids):
                drop.append(it)
                continue
            keep.append(it)
            if ids and not any(s.plan.applicable(r) for r in ids):
                self.skipped.add(it.nodeid)
                it.add_marker(pytest.mark.skip(reason="not applicable to this declaration"))
            elif s.test_done(it.nodeid):
                self.skipped.add(it.nodeid)
                it.add_marker(pytest.mark.skip(reason="already recorded (resumed run)"))
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self.n_items = len(items)
        covered = {r for it in keep for r in requirement_ids(it)}
        for pr in s.plan.requirements:
            req = s.catalog.get(pr.id)
            if req.automated and pr.applicable and pr.id not in covered:
                self.untested.append(pr.id)
                s.flag(Flag(pr.id, "no_test", "no test in the suite provides evidence for "
                            "this automated requirement"))

    # -- running ----------------------------------------------------------------------------
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.item_index += 1
        self.progress.test_started(self.item_index, self.n_items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        ids = requirement_ids(item)
        if ids:
            item.user_properties.append(("requirements", ",".join(ids)))  # JUnit view
        if ids and item.nodeid not in self.skipped:
            self.outcomes_known.add(item.nodeid)
            self.session.start_test(item.nodeid, ids)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        ids = requirement_ids(item)
        if not ids or item.nodeid in self.skipped:
            return report
        if report.failed:
            self.outcomes[item.nodeid] = "failed"
            if call.excinfo is not None and call.excinfo.errisinstance(RunError):
                self.session.incomplete.append(f"{item.nodeid}: {call.excinfo.value}")
                self.outcomes[item.nodeid] = "incomplete"
                if call.excinfo.errisinstance(CandidateUnreachable):
                    item.session.shouldstop = str(call.excinfo.value)
            text = self.session.redactor.text(_trace(call))
            for rid in ids:
                self.session.flag(Flag(rid, "check_error", text[:8000],
                                       key=f"{report.when}"), item.nodeid)
        elif report.skipped:
            self.outcomes.setdefault(item.nodeid, "skipped")
        if report.when == "teardown":
            outcome = self.outcomes.get(item.nodeid, "passed")
            if outcome != "incomplete":  # a resume must run it again
                self.session.end_test(item.nodeid, outcome)
        return report

    def pytest_report_teststatus(self, report: pytest.TestReport) -> Any:
        """A requirement test that ran without crashing has *recorded* evidence; whether
        the requirement passed is its verdict's report (``tokencert::ID``), not this."""
        if report.when == "call" and report.passed and report.nodeid in self.outcomes_known:
            return "recorded", ".", "RECORDED"
        v = getattr(report, "tokencert_verdict", None)
        if v is not None and v.get("outcome") == "fail" and v.get("obligation") != "MUST":
            return SHOULD_FAILED, "f", ("FAILED (SHOULD)", {"yellow": True})
        return None

    # -- end ----------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)  # before pytest's junitxml and terminal summary
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from conformance.report import results

        self.progress.close()
        interrupted = exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
        complete = not interrupted and not self.session.incomplete
        self.session.finish("complete" if complete else "incomplete")
        doc = results.compute(self.session.options.out)
        self.results_path = results.write(self.session.options.out, doc)
        self.doc = doc
        if interrupted:
            return
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:  # the verdicts' letters on a line of their own
            if self._mid_line():
                tr.write("\n")
            tr.write_sep("-", "tokencert: one result per requirement (its verdict)")
        for rep in verdict_reports(doc):
            self.config.hook.pytest_runtest_logreport(report=rep)
        junit = self.config.getoption("tokencert_junit")
        if junit:
            from conformance.report import junit as junit_view

            junit_view.write(Path(junit), doc)
        if results.must_failed(doc) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        tr = terminalreporter
        if self.doc is not None:
            head, *lines = verdict_summary(self.doc)
            tr.write_sep("-", head)
            for line in lines:
                tr.write_line(line)
        if self.untested:
            tr.write_sep("-", "tokencert: automated requirements with no test")
            tr.write_line(", ".join(self.untested))
        if self.results_path is not None:
            tr.write_sep("-", f"tokencert: results in {self.results_path}")


def _trace(call: pytest.CallInfo[None]) -> str:
    if call.excinfo is None:
        return "failed without an exception"
    e = call.excinfo.value
    head = "".join(traceback.format_exception_only(type(e), e)).strip()
    return f"{head}\n{call.excinfo.getrepr(style='short', chain=True)}"
