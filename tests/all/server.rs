//! The scheduling server: misfire and overlap policies, restarts without
//! repeated or lost runs, daylight saving time, and deployment files. Time
//! comes from a manual clock, so no test waits for a schedule.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use wflow_alerts::Secrets;
use wflow_host::server::Server;
use wflow_host::server::clock::ManualClock;
use wflow_host::server::deployment::{Deployment, load_deployments};
use wflow_host::server::scheduler::{Fire, Scheduler};
use wflow_host::state::{RedbScheduleStore, RunFilter, RunRecord, RunState, RunStore, StateDir};

use crate::support::{self, Sandbox};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap_or_else(|error| panic!("bad test time {text}: {error}"))
}

/// Writes a flow of one fixture task whose mode is `mode` (`echo`
/// succeeds at once, `nap` sleeps 1.5 s), and returns its path.
fn fixture_flow(sandbox: &Sandbox, mode: &str) -> PathBuf {
    let component = support::component("wflow_fixture_faults").display().to_string();
    sandbox.write(
        &format!("flows/{mode}.toml"),
        &format!(
            "[flow]\nname = \"{mode}\"\n\n[params.mode]\ntype = \"string\"\ndefault = \"{mode}\"\n\n\
             [[tasks]]\nid = \"only\"\ncomponent = \"{component}\"\ninput = {{ param = \"mode\" }}\ncache = false\n"
        ),
    )
}

/// Writes deployment `name` of the `mode` fixture flow with the `[schedule]`
/// lines `schedule`, and returns the deployments folder.
fn deploy(sandbox: &Sandbox, name: &str, mode: &str, schedule: &str) -> PathBuf {
    fixture_flow(sandbox, mode);
    sandbox.write(
        &format!("deployments/{name}.toml"),
        &format!("flow = \"../flows/{mode}.toml\"\n\n[schedule]\n{schedule}\n"),
    );
    sandbox.path().join("deployments")
}

fn load(folder: &std::path::Path) -> Vec<Deployment> {
    let (deployments, problems) = load_deployments(folder);
    assert!(problems.is_empty(), "{problems:?}");
    deployments
}

fn scheduler(sandbox: &Sandbox) -> Scheduler {
    let state = StateDir::open(&sandbox.state_dir(), Duration::from_secs(10)).unwrap();
    Scheduler::new(Arc::new(RedbScheduleStore::new(state.database())))
}

/// Calls `due` and fails the test on a storage error.
trait DueOk {
    fn due_ok(&mut self, now: Timestamp) -> Result<Vec<Fire>, anyhow::Error>;
}

impl DueOk for Scheduler {
    fn due_ok(&mut self, now: Timestamp) -> Result<Vec<Fire>, anyhow::Error> {
        match self.due(now) {
            (fires, None) => Ok(fires),
            (_, Some(error)) => Err(error),
        }
    }
}

fn slots(fires: &[Fire]) -> Vec<String> {
    fires.iter().map(|fire| fire.slot.to_string()).collect()
}

#[test]
fn misfire_policies_after_downtime() {
    // Hourly fire times; the scheduler starts at 00:10 and is next asked at
    // 05:30, so 01:00 to 05:00 were missed.
    let cases = [
        ("misfire = \"latest\"", vec!["2026-03-01T05:00:00Z"]),
        (
            "misfire = \"all\"\ncatch_up = \"3h\"",
            vec!["2026-03-01T03:00:00Z", "2026-03-01T04:00:00Z", "2026-03-01T05:00:00Z"],
        ),
        ("misfire = \"none\"", vec![]),
    ];
    for (policy, expected) in cases {
        let sandbox = Sandbox::new();
        let folder = deploy(&sandbox, "hourly", "echo", &format!("cron = \"0 * * * *\"\n{policy}"));
        let mut scheduler = scheduler(&sandbox);
        scheduler.update(&load(&folder), at("2026-03-01T00:10:00Z"), &|_| false).unwrap();

        let fires = scheduler.due_ok(at("2026-03-01T05:30:00Z")).unwrap();

        assert_eq!(slots(&fires), expected, "{policy}");
        assert_eq!(scheduler.next_wake(), Some(at("2026-03-01T06:00:00Z")), "{policy}");
    }
}

#[test]
fn short_interval_downtime_by_policy() {
    // Every second; down from 00:00:00 to 00:00:30, so 30 fire times are due
    // at once and only the latest, 00:00:30, is on time.
    let cases = [
        ("misfire = \"none\"", 1, "2026-03-01T00:00:30Z"),
        ("misfire = \"latest\"", 1, "2026-03-01T00:00:30Z"),
        ("misfire = \"all\"\ncatch_up = \"10s\"", 11, "2026-03-01T00:00:20Z"),
    ];
    for (policy, count, first) in cases {
        let sandbox = Sandbox::new();
        let folder = deploy(&sandbox, "fast", "echo", &format!("every = \"1s\"\n{policy}"));
        let mut scheduler = scheduler(&sandbox);
        scheduler.update(&load(&folder), at("2026-03-01T00:00:00Z"), &|_| false).unwrap();

        let fires = scheduler.due_ok(at("2026-03-01T00:00:30Z")).unwrap();

        assert_eq!(fires.len(), count, "{policy}: {:?}", slots(&fires));
        assert_eq!(fires[0].slot, at(first), "{policy}");
        assert_eq!(fires.last().unwrap().slot, at("2026-03-01T00:00:30Z"), "{policy}");
    }
}

#[test]
fn on_time_fires_run_under_every_policy() {
    for policy in ["latest", "all", "none"] {
        let sandbox = Sandbox::new();
        let folder = deploy(&sandbox, "hourly", "echo", &format!("cron = \"0 * * * *\"\nmisfire = \"{policy}\""));
        let mut scheduler = scheduler(&sandbox);
        scheduler.update(&load(&folder), at("2026-03-01T00:10:00Z"), &|_| false).unwrap();

        let early = scheduler.due_ok(at("2026-03-01T00:59:59Z")).unwrap();
        let late_wake_up = scheduler.due_ok(at("2026-03-01T01:00:30Z")).unwrap();

        assert!(early.is_empty(), "{policy}: {early:?}");
        assert_eq!(slots(&late_wake_up), ["2026-03-01T01:00:00Z"], "{policy}");
    }
}

#[test]
fn restart_resumes_stored_next_fire() {
    let sandbox = Sandbox::new();
    let folder = deploy(&sandbox, "hourly", "echo", "cron = \"0 * * * *\"");
    let deployments = load(&folder);
    {
        let mut first = scheduler(&sandbox);
        first.update(&deployments, at("2026-03-01T00:10:00Z"), &|_| false).unwrap();
    }

    // Down from 00:10 to 03:30: the stored next fire time, 01:00, shows
    // that fire times were missed. Recomputing from the restart would not.
    let mut second = scheduler(&sandbox);
    second.update(&deployments, at("2026-03-01T03:30:00Z"), &|_| false).unwrap();
    let fires = second.due_ok(at("2026-03-01T03:30:00Z")).unwrap();

    assert_eq!(slots(&fires), ["2026-03-01T03:00:00Z"]);
}

#[test]
fn restart_neither_repeats_nor_loses_fires() {
    let sandbox = Sandbox::new();
    let folder = deploy(&sandbox, "hourly", "echo", "cron = \"0 * * * *\"");
    let deployments = load(&folder);
    let start = at("2026-03-01T00:10:00Z");
    let due = at("2026-03-01T01:00:00Z");

    // A crash after the fire was chosen, before its run was recorded.
    let chosen = {
        let mut first = scheduler(&sandbox);
        first.update(&deployments, start, &|_| false).unwrap();
        first.due_ok(due).unwrap()
    };
    assert_eq!(chosen.len(), 1);

    // After the restart the same fire, with the same run id, comes back
    // once; after it is settled it never comes back.
    let mut second = scheduler(&sandbox);
    second.update(&deployments, due, &|_| false).unwrap();
    let again = second.due_ok(due).unwrap();
    let twice = second.due_ok(due).unwrap();
    assert_eq!(again, chosen);
    assert!(twice.is_empty(), "{twice:?}");
    second.settle("hourly", &chosen[0].run_id).unwrap();
    drop(second);

    let mut third = scheduler(&sandbox);
    third.update(&deployments, due, &|_| false).unwrap();
    assert!(third.due_ok(due).unwrap().is_empty());

    // A crash after the run was recorded but before the fire was settled:
    // the recorded run id is dropped instead of run again.
    let next = third.due_ok(at("2026-03-01T02:00:00Z")).unwrap();
    assert_eq!(next.len(), 1);
    drop(third);
    let mut fourth = scheduler(&sandbox);
    let recorded = next[0].run_id.clone();
    fourth.update(&deployments, at("2026-03-01T02:00:01Z"), &|run_id| run_id == recorded).unwrap();
    assert!(fourth.due_ok(at("2026-03-01T02:00:01Z")).unwrap().is_empty());
}

#[test]
fn daily_job_in_spring_gap_fires_once() {
    let sandbox = Sandbox::new();
    let folder = deploy(&sandbox, "nightly", "echo", "cron = \"30 2 * * *\"\ntime_zone = \"America/New_York\"");
    let mut scheduler = scheduler(&sandbox);
    scheduler.update(&load(&folder), at("2026-03-06T12:00:00Z"), &|_| false).unwrap();

    // Step from wake-up to wake-up, as the server does.
    let mut fired = Vec::new();
    for _ in 0..4 {
        let wake = scheduler.next_wake().unwrap();
        fired.extend(slots(&scheduler.due_ok(wake).unwrap()));
    }

    // 02:30 does not exist on 2026-03-08: that day fires at 03:00 EDT.
    assert_eq!(fired, ["2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"]);
}

#[test]
fn invalid_deployments_named_with_place() {
    let sandbox = Sandbox::new();
    fixture_flow(&sandbox, "echo");
    sandbox.write("deployments/good.toml", "flow = \"../flows/echo.toml\"\n[schedule]\nevery = \"15m\"\n");
    sandbox.write("deployments/minute.toml", "flow = \"../flows/echo.toml\"\n[schedule]\ncron = \"61 * * * *\"\n");
    sandbox.write(
        "deployments/policy.toml",
        "flow = \"../flows/echo.toml\"\n[schedule]\ncron = \"@daily\"\noverlap = \"wait\"\n",
    );
    sandbox.write("deployments/missing.toml", "flow = \"../flows/absent.toml\"\n");
    sandbox.write("deployments/param.toml", "flow = \"../flows/echo.toml\"\n[params]\nmode = [1]\n");

    let (deployments, problems) = load_deployments(&sandbox.path().join("deployments"));

    let names: Vec<&str> = deployments.iter().map(|deployment| deployment.name.as_str()).collect();
    assert_eq!(names, ["good"]);
    assert_eq!(problems.len(), 4, "{problems:#?}");
    let find =
        |file: &str| problems.iter().find(|problem| problem.contains(file)).unwrap_or_else(|| panic!("{problems:#?}"));
    assert!(
        find("minute.toml:3:8: the schedule of `minute` is invalid: minute field `61`").contains("help: check it with")
    );
    assert!(
        find("policy.toml:4:11: overlap policy `wait` is unknown").contains("help: use `skip`, `queue` or `allow`")
    );
    assert!(find("missing.toml:1:8: the flow of deployment `missing` does not load").contains("absent.toml"));
    assert!(find("param.toml:3:8: parameter `mode` of deployment `param` is a array").contains("help: give a string"));
}

/// Runs the server's loop on a manual clock until the test calls `stop`.
struct Running {
    server: Arc<Server>,
    clock: Arc<ManualClock>,
    host: Arc<wflow_host::Host>,
    serving: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(sandbox: &Sandbox, folder: &std::path::Path, start: Timestamp) -> Running {
        let host = Arc::new(sandbox.host());
        let clock = Arc::new(ManualClock::new(start));
        let server = Server::new(host.clone(), folder, clock.clone(), Arc::new(Secrets::empty())).unwrap();
        let serving = tokio::spawn({
            let server = server.clone();
            async move { server.serve().await }
        });
        Running { server, clock, host, serving }
    }

    /// Waits until `count` runs are recorded as ended, for at most 30 s.
    async fn ended_runs(&self, count: usize) -> Vec<RunRecord> {
        let started = Instant::now();
        loop {
            let runs = self.host.runs().runs(&RunFilter::default()).unwrap();
            let ended: Vec<RunRecord> = runs.into_iter().filter(|run| run.state != RunState::Running).collect();
            if ended.len() >= count || started.elapsed() > Duration::from_secs(30) {
                return ended;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.server.shutdown();
        self.serving.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn server_runs_fire_times() {
    let sandbox = Sandbox::new();
    let folder = deploy(&sandbox, "every-minute", "echo", "every = \"1m\"");
    let running = Running::start(&sandbox, &folder, at("2026-03-01T00:00:30Z"));

    running.clock.set(at("2026-03-01T00:01:00Z"));
    let first = running.ended_runs(1).await;
    running.clock.set(at("2026-03-01T00:02:00Z"));
    let second = running.ended_runs(2).await;
    running.server.wait_idle().await;
    running.stop().await;

    assert_eq!(first.len(), 1);
    assert_eq!(second.len(), 2);
    assert!(second.iter().all(|run| run.state == RunState::Completed && run.flow == "echo"), "{second:#?}");
    let mut fire_times: Vec<_> = second.iter().map(|run| run.scheduled_for_ms).collect();
    fire_times.sort();
    assert_eq!(
        fire_times,
        [
            Some(at("2026-03-01T00:01:00Z").as_millisecond() as u64),
            Some(at("2026-03-01T00:02:00Z").as_millisecond() as u64)
        ],
        "each run records its fire time"
    );
}

/// Fires a deployment of the 1.5-second `nap` fixture twice, the second
/// time while the first run is going, and returns the ended runs, oldest
/// first.
async fn overlapping_fires(overlap: &str, expected_runs: usize) -> Vec<RunRecord> {
    let sandbox = Sandbox::new();
    let folder = deploy(&sandbox, "napper", "nap", &format!("every = \"1m\"\noverlap = \"{overlap}\""));
    let running = Running::start(&sandbox, &folder, at("2026-03-01T00:00:30Z"));

    running.clock.set(at("2026-03-01T00:01:00Z"));
    // Waits for the first run to be recorded before the second fire time.
    let started = Instant::now();
    while running.host.runs().runs(&RunFilter::default()).unwrap().is_empty()
        && started.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.clock.set(at("2026-03-01T00:02:00Z"));
    let mut runs = running.ended_runs(expected_runs).await;
    running.server.wait_idle().await;
    let all = running.host.runs().runs(&RunFilter::default()).unwrap();
    running.stop().await;

    assert_eq!(all.len(), expected_runs, "{overlap}: {all:#?}");
    runs.sort_by_key(|run| run.started_at_ms);
    runs
}

#[tokio::test(flavor = "multi_thread")]
async fn overlap_skip_drops_second_fire() {
    let runs = overlapping_fires("skip", 1).await;

    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].state, RunState::Completed);
}

#[tokio::test(flavor = "multi_thread")]
async fn overlap_queue_runs_after_first() {
    let runs = overlapping_fires("queue", 2).await;

    assert_eq!(runs.len(), 2);
    let first_end = runs[0].ended_at_ms.unwrap();
    assert!(runs[1].started_at_ms >= first_end, "the queued run started before the first ended: {runs:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn overlap_allow_runs_both_at_once() {
    let runs = overlapping_fires("allow", 2).await;

    assert_eq!(runs.len(), 2);
    let first_end = runs[0].ended_at_ms.unwrap();
    assert!(runs[1].started_at_ms < first_end, "the second run waited for the first: {runs:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_reports_what_changed() {
    let sandbox = Sandbox::new();
    deploy(&sandbox, "kept", "echo", "every = \"1m\"");
    deploy(&sandbox, "edited", "echo", "every = \"1m\"");
    let folder = deploy(&sandbox, "dropped", "echo", "every = \"1m\"");
    let host = Arc::new(sandbox.host());
    let clock = Arc::new(ManualClock::new(at("2026-03-01T00:00:30Z")));
    let server = Server::new(host, &folder, clock, Arc::new(Secrets::empty())).unwrap();

    deploy(&sandbox, "edited", "echo", "every = \"5m\"");
    deploy(&sandbox, "added", "echo", "cron = \"@daily\"");
    std::fs::remove_file(folder.join("dropped.toml")).unwrap();
    let changes = server.reload().unwrap();

    assert_eq!(
        changes,
        [
            "added deployment `added`",
            "changed deployment `edited`",
            "removed deployment `dropped`",
            "deployment `added` fires on `@daily` in UTC",
            "deployment `edited` fires on `@every 5m` in UTC",
            "deployment `dropped` no longer has a schedule; its stored state is kept",
        ]
    );
    let names: Vec<String> = server.deployments().iter().map(|deployment| deployment.name.clone()).collect();
    assert_eq!(names, ["added", "edited", "kept"]);
    assert_eq!(server.upcoming("edited", 1)[0].timestamp(), at("2026-03-01T00:05:00Z"));
}
