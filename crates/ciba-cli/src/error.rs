//! The command's errors: one line a person can act on, and the exit code that goes with it.

use std::fmt;
use std::process::ExitCode;

/// How a command ended unsuccessfully; decides the exit code (see `ciba --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Network, protocol, validation or set-up errors: exit code 1.
    Error,
    /// Bad options or unusable input files: exit code 2.
    Usage,
    /// The user or the provider denied the request (`access_denied`): exit code 3.
    Denied,
    /// The request expired before the user answered (`expired_token`): exit code 4.
    Expired,
}

impl Failure {
    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Failure::Error => 1,
            Failure::Usage => 2,
            Failure::Denied => 3,
            Failure::Expired => 4,
        }
    }
}

/// A failed command: what to print after `error: ` and how to exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CliError {
    /// The kind, which decides the exit code.
    pub(crate) failure: Failure,
    /// One line, without the `error: ` prefix.
    pub(crate) message: String,
}

impl CliError {
    /// An error (exit code 1).
    pub(crate) fn error(message: impl fmt::Display) -> CliError {
        CliError::new(Failure::Error, message)
    }

    /// A usage error (exit code 2).
    pub(crate) fn usage(message: impl fmt::Display) -> CliError {
        CliError::new(Failure::Usage, message)
    }

    /// An error of kind `failure`. The message is flattened to one line.
    pub(crate) fn new(failure: Failure, message: impl fmt::Display) -> CliError {
        CliError {
            failure,
            message: one_line(&message.to_string()),
        }
    }

    /// The exit code for this error.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.failure.code())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The error chain of `err`, joined with `: `, skipping causes that repeat what their
/// parent already said (thiserror's `transparent` and `{0}` formats repeat their source).
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_distinguish_the_outcomes() {
        let codes: Vec<u8> = [
            Failure::Error,
            Failure::Usage,
            Failure::Denied,
            Failure::Expired,
        ]
        .iter()
        .map(|f| f.code())
        .collect();
        assert_eq!(codes, [1, 2, 3, 4]);
    }

    #[test]
    fn messages_are_flattened_to_one_line() {
        let e = CliError::error("connection refused\n  at line 3");
        assert_eq!(e.message, "connection refused at line 3");
    }

    #[test]
    fn the_chain_skips_repeated_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use");
        assert_eq!(chain(&io), "address in use");
    }
}
