//! Background lanes of `cargo xtask ci`: steps that run beside the main sequence.
//!
//! A lane is a thread that runs its commands one after another. Each command runs at the
//! lowest CPU priority (`nice -n 19`, when `nice` exists), in the run's process group (an
//! interrupt from the terminal reaches it too), with its stdout and stderr captured in
//! `<target>/ci-logs/<lane>-<n>.log`. The main
//! sequence keeps the CPU it asks for; a lane takes what it leaves idle: single-threaded
//! link steps, tests waiting on servers, the interop matrix waiting for poll intervals.
//!
//! Joining a lane prints each of its steps as one block (its command, its whole output, its
//! own wall time) and returns the first failure with the message a step of the main sequence
//! gives (`` `cargo ARGS` failed (STATUS) ``). A lane dropped unjoined (another step failed)
//! starts no further command and kills the running one with every process under it (found in
//! `/proc`, frozen first so that none starts another), so no compiler outlives
//! `cargo xtask ci`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::timings::Timings;

/// How often a lane looks whether its command has exited.
const POLL: Duration = Duration::from_millis(100);

/// One command of a lane.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    program: String,
    /// How messages name the program (`cargo`, whatever `$CARGO` is).
    shown: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: PathBuf,
}

impl Step {
    /// `cargo ARGS` in the workspace root.
    pub(crate) fn cargo(args: &[&str]) -> Step {
        Step {
            program: std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()),
            shown: "cargo".to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
            dir: crate::ci::root(),
        }
    }

    /// With `key=value` in its environment.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Step {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// With each `key=value` of `vars` in its environment.
    pub(crate) fn envs(self, vars: &[(&str, &str)]) -> Step {
        vars.iter().fold(self, |step, (k, v)| step.env(k, v))
    }

    /// This xtask binary again with `args` (`cargo xtask ARGS` without cargo's build lock).
    pub(crate) fn xtask(args: &[&str]) -> Step {
        let program = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "xtask".to_owned());
        Step {
            program,
            shown: "cargo xtask".to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
            dir: crate::ci::root(),
        }
    }

    /// Run in `dir` instead of the workspace root.
    pub(crate) fn in_dir(mut self, dir: &Path) -> Step {
        dir.clone_into(&mut self.dir);
        self
    }

    /// `cargo test --locked ...`, as the `==>` line and error messages show it.
    pub(crate) fn command_line(&self) -> String {
        let mut line = self.shown.clone();
        for arg in &self.args {
            line.push(' ');
            line.push_str(arg);
        }
        line
    }

    /// `cargo test`: the program and its first argument (the `<==` line's form).
    fn short(&self) -> String {
        match self.args.first() {
            Some(first) => format!("{} {first}", self.shown),
            None => self.shown.clone(),
        }
    }

    fn command(&self, niced: bool) -> Command {
        let mut cmd = if niced {
            let mut nice = Command::new("nice");
            nice.args(["-n", "19"]).arg(&self.program);
            nice
        } else {
            Command::new(&self.program)
        };
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }
}

/// A step that has run (or was stopped).
struct Done {
    step: Step,
    log: PathBuf,
    started: Instant,
    wall: Duration,
    result: Result<(), String>,
}

/// What the lane's thread and its owner share.
#[derive(Default)]
struct Shared {
    /// The running command, if any.
    running: Mutex<Option<Child>>,
    /// Set by the owner: start nothing more.
    stop: AtomicBool,
    /// Set by the thread when a step failed.
    failed: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running background lane; see the module documentation.
pub(crate) struct Lane {
    name: String,
    logs: PathBuf,
    shared: Arc<Shared>,
    /// Taken when joined (or dropped).
    handle: Mutex<Option<JoinHandle<Vec<Done>>>>,
}

impl Lane {
    /// Starts running `steps` in order on a thread, logging under `logs`.
    pub(crate) fn start(name: &str, steps: Vec<Step>, logs: &Path) -> Result<Lane, String> {
        std::fs::create_dir_all(logs)
            .map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
        let slug: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        println!("\n==> in the background ({name}; output when it ends):");
        for step in &steps {
            println!("    {}", step.command_line());
        }
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let lane_logs = logs.to_owned();
        let logs = logs.to_owned();
        let handle = std::thread::Builder::new()
            .name(format!("lane {name}"))
            .spawn(move || {
                let mut done = Vec::new();
                for (n, step) in steps.into_iter().enumerate() {
                    if thread_shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let log = logs.join(format!("{slug}-{}.log", n + 1));
                    let started = Instant::now();
                    let result = run_step(&step, &log, &thread_shared);
                    let failed = result.is_err();
                    done.push(Done {
                        step,
                        log,
                        started,
                        wall: started.elapsed(),
                        result,
                    });
                    if failed {
                        thread_shared.failed.store(true, Ordering::SeqCst);
                        break;
                    }
                }
                done
            })
            .map_err(|e| format!("cannot start the {name} lane: {e}"))?;
        Ok(Lane {
            name: name.to_owned(),
            logs: lane_logs,
            shared,
            handle: Mutex::new(Some(handle)),
        })
    }

    /// Whether one of its steps has failed already (it then runs nothing more).
    pub(crate) fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::SeqCst)
    }

    /// Waits for the lane, prints each step's block and records its timing; the first
    /// failure is the error. A second join finds nothing more to report.
    pub(crate) fn join(&self, timings: &mut Timings) -> Result<(), String> {
        let waited = Instant::now();
        let Some(handle) = lock(&self.handle).take() else {
            return Ok(());
        };
        let Ok(done) = handle.join() else {
            return Err(format!("the {} lane's thread panicked", self.name));
        };
        let waited = waited.elapsed().as_secs_f64();
        let mut first_error = None;
        for d in done {
            let wall = d.wall.as_secs_f64();
            println!(
                "\n==> {} (in the background, {}; {wall:.1} s)",
                d.step.command_line(),
                self.name
            );
            print!("{}", std::fs::read_to_string(&d.log).unwrap_or_default());
            println!("<== {} ({wall:.1} s, background)", d.step.short());
            timings.record(
                &d.step.command_line(),
                d.started,
                d.wall,
                true,
                d.result.is_ok(),
            );
            if let Err(e) = d.result {
                first_error.get_or_insert(e);
            }
        }
        println!("    (the main sequence waited {waited:.1} s for this lane)");
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        let Some(handle) = lock(&self.handle).take() else {
            return; // Joined.
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        println!(
            "<== the {} lane is not joined: stopped; its output is in {}",
            self.name,
            self.logs.display()
        );
        {
            // Under the lock, the lane's thread cannot reap the child meanwhile: the pid is
            // still ours.
            let running = lock(&self.shared.running);
            if let Some(pid) = running.as_ref().map(Child::id) {
                println!("    killing its command (pid {pid}) and every process under it");
                kill_tree(pid);
            }
        }
        let _ = handle.join();
    }
}

/// Runs one step to its end (or until the lane is stopped), its output in `log`.
fn run_step(step: &Step, log: &Path, shared: &Shared) -> Result<(), String> {
    let line = step.command_line();
    let out = File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot share {}: {e}", log.display()))?;
    {
        // Spawned under the lock, so that a stop either comes first (nothing starts) or
        // finds the child to signal.
        let mut running = lock(&shared.running);
        if shared.stop.load(Ordering::SeqCst) {
            return Err(format!("`{line}` was stopped before it started"));
        }
        let child = spawn(step, out, err).map_err(|e| format!("cannot run {line}: {e}"))?;
        *running = Some(child);
    }
    loop {
        {
            // Reaped and forgotten under the lock: a stop never signals a reused pid.
            let mut running = lock(&shared.running);
            let status = match running.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(status),
                Some(Ok(None)) => None,
                Some(Err(e)) => {
                    *running = None;
                    return Err(format!("cannot wait for {line}: {e}"));
                }
                None => return Err(format!("`{line}` vanished")),
            };
            if let Some(status) = status {
                *running = None;
                return check(&line, status);
            }
        }
        std::thread::sleep(POLL);
    }
}

fn check(line: &str, status: ExitStatus) -> Result<(), String> {
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{line}` failed ({status})"))
    }
}

/// Spawns `step` niced in its own process group; without `nice`, at normal priority.
fn spawn(step: &Step, out: File, err: File) -> std::io::Result<Child> {
    let err2 = err.try_clone()?;
    let out2 = out.try_clone()?;
    match step.command(true).stdout(out).stderr(err).spawn() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            step.command(false).stdout(out2).stderr(err2).spawn()
        }
        spawned => spawned,
    }
}

/// Kills `pid` and every process under it: each is frozen (SIGSTOP) as it is found, so that
/// none starts another meanwhile, then all are killed (SIGKILL works on frozen ones). The
/// tree comes from `/proc`; without it only `pid` is killed.
fn kill_tree(pid: u32) {
    let mut tree = vec![pid];
    signal(&tree, "-STOP");
    loop {
        let children: Vec<u32> = parents()
            .into_iter()
            .filter(|(child, parent)| tree.contains(parent) && !tree.contains(child))
            .map(|(child, _)| child)
            .collect();
        if children.is_empty() {
            break;
        }
        signal(&children, "-STOP");
        tree.extend(children);
    }
    signal(&tree, "-KILL");
}

/// Every process's (pid, parent pid), from `/proc/PID/stat`.
fn parents() -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, parent_of(&stat)?))
        })
        .collect()
}

/// The parent pid in a `/proc/PID/stat` line: `PID (COMM) STATE PPID ...`, where COMM may
/// hold spaces and parentheses.
fn parent_of(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Sends `signal` (`-STOP`, `-KILL`) to each of `pids`.
fn signal(pids: &[u32], signal: &str) {
    let _ = Command::new("kill")
        .arg(signal)
        .args(pids.iter().map(u32::to_string))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Step {
        Step {
            program: "sh".to_owned(),
            shown: "sh".to_owned(),
            args: vec!["-c".to_owned(), script.to_owned()],
            env: Vec::new(),
            dir: std::env::temp_dir(),
        }
    }

    fn logs(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("xtask-lanes-{name}-{}", std::process::id()))
    }

    #[test]
    fn command_lines_name_cargo_and_its_arguments() {
        let step = Step::cargo(&["test", "--locked", "-p", "ciba-core"]).env("K", "V");
        assert_eq!(step.command_line(), "cargo test --locked -p ciba-core");
        assert_eq!(step.short(), "cargo test");
        assert_eq!(step.env, vec![("K".to_owned(), "V".to_owned())]);
    }

    #[test]
    fn a_lane_runs_its_steps_in_order_and_records_each() {
        let dir = logs("order");
        let marker = dir.join("marker");
        let first = shell(&format!("echo one > '{}'", marker.display()));
        let second = shell(&format!(
            "grep -q one '{}' && echo two >> '{}'",
            marker.display(),
            marker.display()
        ));
        let mut timings = Timings::new();
        let lane = Lane::start("order", vec![first, second], &dir);
        let joined = lane.and_then(|l| l.join(&mut timings));
        assert_eq!(joined, Ok(()));
        let text = std::fs::read_to_string(&marker).unwrap_or_default();
        assert_eq!(text, "one\ntwo\n");
        assert_eq!(timings.len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failure_is_reported_like_the_main_sequence_and_stops_the_lane() {
        let dir = logs("fail");
        let marker = dir.join("never");
        let later = shell(&format!("touch '{}'", marker.display()));
        let mut timings = Timings::new();
        let lane = Lane::start("fail", vec![shell("exit 3"), later], &dir);
        let Ok(lane) = lane else {
            panic!("the lane did not start");
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !lane.failed() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        assert!(lane.failed());
        let joined = lane.join(&mut timings);
        assert_eq!(
            joined,
            Err("`sh -c exit 3` failed (exit status: 3)".to_owned())
        );
        assert!(!marker.exists(), "a step after the failure ran");
        assert_eq!(timings.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_parent_pid_is_read_past_a_command_with_parentheses() {
        assert_eq!(parent_of("4242 (rustc (x) y) S 4200 4242 1 0"), Some(4200));
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn dropping_a_lane_kills_its_command_and_every_process_under_it() {
        let dir = logs("drop");
        let pid_file = dir.join("grandchild.pid");
        // The shell starts a grandchild that would outlive a plain kill of the shell.
        let script = format!("sleep 300 & echo $! > '{}'; wait", pid_file.display());
        let lane = Lane::start("drop", vec![shell(&script), shell("true")], &dir);
        // The whole line (with its newline) is there once the shell has written it.
        let read = || std::fs::read_to_string(&pid_file).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !read().ends_with('\n') && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        let grandchild = read().trim().to_owned();
        assert!(!grandchild.is_empty(), "the grandchild never started");
        drop(lane);
        // Gone, or a zombie waiting for its new parent to reap it (SIGKILL takes effect
        // when the kernel next schedules it: on a busy machine, a moment later).
        let state = || {
            let stat =
                std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next())
                .map(str::to_owned);
            (state, stat)
        };
        let dead = |s: &Option<String>| matches!(s.as_deref(), None | Some("Z" | "X"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dead(&state().0) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        let (last, stat) = state();
        assert!(dead(&last), "sleep {grandchild} survived the lane: {stat}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
