//! Live progress on stderr while a flow waits for the user: a spinner with the time left
//! before expiry, the current interval and the token requests made. When stderr is not a
//! terminal, plain lines are printed instead, one per change. [`mirror`] feeds it from
//! ciba-client's progress snapshots; a refused notification shows at once.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use ciba_client::FlowProgress;
use ciba_core::PollPhase;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const TICK: Duration = Duration::from_millis(100);

/// What the flow is doing, as shown by the spinner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProgressState {
    /// The current step ("waiting for the user", "waiting for a ping", ...).
    pub(crate) phase: String,
    /// When the request expires.
    pub(crate) expires_at: Option<SystemTime>,
    /// The current polling interval (poll and ping).
    pub(crate) interval: Option<Duration>,
    /// Token requests made so far.
    pub(crate) token_requests: u32,
    /// The last refused notification, said at once.
    pub(crate) refused: Option<String>,
}

#[derive(Debug)]
struct Shared {
    label: String,
    state: ProgressState,
    /// What the last plain line said (for non-terminals: print only on change).
    last_plain: Option<(String, Option<Duration>, u32, Option<String>)>,
    frame: usize,
    drawn: bool,
}

/// A progress display for one flow. Cheap to clone; every clone updates the same display.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    shared: Arc<Mutex<Shared>>,
    tty: bool,
    ticker: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Progress {
    /// A display labelled `label` (for example the mode). On a terminal a background task
    /// redraws the spinner; call [`Progress::finish`] to stop it.
    pub(crate) fn start(label: impl Into<String>) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let progress = Progress {
            shared: Arc::new(Mutex::new(Shared {
                label: label.into(),
                state: ProgressState::default(),
                last_plain: None,
                frame: 0,
                drawn: false,
            })),
            tty,
            ticker: Arc::new(Mutex::new(None)),
        };
        if tty {
            let shared = progress.shared.clone();
            let handle = tokio::spawn(async move {
                let mut tick = tokio::time::interval(TICK);
                loop {
                    tick.tick().await;
                    let mut s = lock(&shared);
                    s.frame = s.frame.wrapping_add(1);
                    draw_spinner(&mut s);
                }
            });
            *lock(&progress.ticker) = Some(handle);
        }
        progress
    }

    /// Changes the state and shows it.
    pub(crate) fn update(&self, change: impl FnOnce(&mut ProgressState)) {
        let mut s = lock(&self.shared);
        change(&mut s.state);
        if self.tty {
            draw_spinner(&mut s);
        } else {
            plain_line(&mut s);
        }
    }

    /// Stops the spinner, clears its line and prints `message`.
    pub(crate) fn finish(&self, message: impl AsRef<str>) {
        if let Some(handle) = lock(&self.ticker).take() {
            handle.abort();
        }
        let mut s = lock(&self.shared);
        let mut err = std::io::stderr().lock();
        if s.drawn {
            let _ = write!(err, "\r\x1b[2K");
            s.drawn = false;
        }
        let _ = writeln!(err, "[{}] {}", s.label, message.as_ref());
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // The last clone stops the ticker (a finished display already did).
        if Arc::strong_count(&self.ticker) == 1
            && let Some(handle) = lock(&self.ticker).take()
        {
            handle.abort();
            let s = lock(&self.shared);
            if s.drawn {
                let _ = write!(std::io::stderr(), "\r\x1b[2K");
            }
        }
    }
}

/// Shows a wait's progress snapshots (ciba-client's [`FlowProgress`]) on `progress` until
/// the sender goes away.
pub(crate) async fn mirror(mut rx: watch::Receiver<FlowProgress>, progress: Progress) {
    loop {
        {
            let snapshot = rx.borrow_and_update().clone();
            let p = &snapshot.poll;
            if !matches!(p.phase, PollPhase::Starting | PollPhase::Finished) {
                let phase = match p.phase {
                    PollPhase::Requesting => Phase::Requesting,
                    PollPhase::AwaitingPush => Phase::AwaitingPush,
                    _ => Phase::Waiting,
                };
                let refused = snapshot.last_refused.as_ref().map(ToString::to_string);
                progress.show(phase, p.expires_at, p.interval, p.polls_sent, refused);
            }
        }
        if rx.changed().await.is_err() {
            break;
        }
    }
}

/// What a client's progress snapshot says the flow is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Requesting,
    AwaitingPush,
}

impl Progress {
    fn show(
        &self,
        phase: Phase,
        expires_at: SystemTime,
        interval: Duration,
        polls: u32,
        refused: Option<String>,
    ) {
        self.update(|s| {
            s.phase = match phase {
                Phase::Requesting => "asking the token endpoint",
                Phase::AwaitingPush => "waiting for the push delivery",
                Phase::Waiting => "waiting for the user",
            }
            .to_owned();
            s.expires_at = Some(expires_at);
            s.interval = (phase != Phase::AwaitingPush && !interval.is_zero()).then_some(interval);
            s.token_requests = polls;
            s.refused = refused;
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The status text: `waiting for the user: 57 s left, interval 1 s, 2 token requests`.
pub(crate) fn describe(state: &ProgressState, now: SystemTime) -> String {
    let mut parts = Vec::new();
    if let Some(expires_at) = state.expires_at {
        let left = expires_at.duration_since(now).unwrap_or_default();
        parts.push(format!("{} s left", left.as_secs()));
    }
    if let Some(interval) = state.interval {
        parts.push(format!("interval {} s", interval.as_secs()));
    }
    let n = state.token_requests;
    parts.push(format!(
        "{n} token request{}",
        if n == 1 { "" } else { "s" }
    ));
    let phase = if state.phase.is_empty() {
        "waiting"
    } else {
        state.phase.as_str()
    };
    let mut line = format!("{phase}: {}", parts.join(", "));
    if let Some(refused) = &state.refused {
        line.push_str(&format!("; {refused}"));
    }
    line
}

fn draw_spinner(s: &mut Shared) {
    if s.state.phase.is_empty() && s.state.expires_at.is_none() {
        return;
    }
    let frame = FRAMES.get(s.frame % FRAMES.len()).copied().unwrap_or("*");
    let text = describe(&s.state, SystemTime::now());
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{frame} [{}] {text}", s.label);
    let _ = err.flush();
    s.drawn = true;
}

fn plain_line(s: &mut Shared) {
    let key = (
        s.state.phase.clone(),
        s.state.interval,
        s.state.token_requests,
        s.state.refused.clone(),
    );
    if s.last_plain.as_ref() == Some(&key) {
        return;
    }
    s.last_plain = Some(key);
    let text = describe(&s.state, SystemTime::now());
    let _ = writeln!(std::io::stderr(), "[{}] {text}", s.label);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_shows_time_left_interval_and_requests() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let state = ProgressState {
            phase: "waiting for the user".into(),
            expires_at: Some(now + Duration::from_secs(57)),
            interval: Some(Duration::from_secs(2)),
            token_requests: 1,
            refused: None,
        };
        assert_eq!(
            describe(&state, now),
            "waiting for the user: 57 s left, interval 2 s, 1 token request"
        );
    }

    #[test]
    fn an_expired_request_shows_zero_seconds_left() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let state = ProgressState {
            expires_at: Some(now - Duration::from_secs(5)),
            ..ProgressState::default()
        };
        assert_eq!(describe(&state, now), "waiting: 0 s left, 0 token requests");
    }

    #[test]
    fn a_refused_notification_is_said_in_the_status() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let state = ProgressState {
            phase: "waiting for the push delivery".into(),
            expires_at: Some(now + Duration::from_secs(9)),
            refused: Some("a push was refused: at_hash mismatch".into()),
            ..ProgressState::default()
        };
        assert_eq!(
            describe(&state, now),
            "waiting for the push delivery: 9 s left, 0 token requests; a push was refused: at_hash mismatch"
        );
    }
}
