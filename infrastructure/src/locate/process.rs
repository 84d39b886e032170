//! Running the helper programs (`docker`, `initdb`, `pg_ctl`) with a deadline, and undoing what
//! they started: synchronously when the guard drops, or from a watcher process if the owner exits
//! without dropping it.

use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::Duration;

use tokio::process::Command;

/// Runs `argv` and returns its standard output; the error names the command and quotes the end of
/// what it printed. The program is killed if it outlives `timeout`.
pub(super) async fn run(argv: &[String], timeout: Duration) -> Result<String, String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("empty command".to_owned());
    };
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).kill_on_drop(true);
    let output = match tokio::time::timeout(timeout, command.output()).await {
        Err(_) => {
            return Err(format!(
                "`{}` did not finish within {} s",
                shown(argv),
                timeout.as_secs()
            ))
        }
        Ok(Err(error)) if error.kind() == ErrorKind::NotFound => {
            return Err(format!("`{program}` is not installed (not found on PATH)"))
        }
        Ok(Err(error)) => return Err(format!("could not run `{program}`: {error}")),
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let printed = if output.stderr.is_empty() {
        &output.stdout
    } else {
        &output.stderr
    };
    Err(format!(
        "`{}` failed ({}): {}",
        shown(argv),
        output.status,
        tail(&String::from_utf8_lossy(printed), 4)
    ))
}

/// Owned argument vector from string slices.
pub(super) fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|part| (*part).to_owned()).collect()
}

/// Owned argument vector from a fixed command line split at whitespace.
pub(super) fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

/// The last `lines` non-empty lines of `text`, joined with " | " to fit in one message.
pub(super) fn tail(text: &str, lines: usize) -> String {
    let kept: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    kept[kept.len().saturating_sub(lines)..].join(" | ")
}

/// A command line as the user would type it.
fn shown(argv: &[String]) -> String {
    argv.join(" ")
}

/// One thing to undo.
#[derive(Debug)]
pub(super) enum Step {
    /// Run a command (stop a server, remove a container); failures are logged.
    Run(Vec<String>),
    /// Delete a directory and everything in it.
    RemoveDir(PathBuf),
}

impl Step {
    /// Does it now, blocking: `Drop` cannot await, and the caller wants the server gone on return.
    fn run_now(&self) {
        match self {
            Self::Run(argv) => {
                let Some((program, args)) = argv.split_first() else {
                    return;
                };
                let status = StdCommand::new(program)
                    .args(args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                match status {
                    Ok(status) if status.success() => {}
                    Ok(status) => tracing::warn!(command = %shown(argv), %status, "cleanup failed"),
                    Err(error) => tracing::warn!(command = %shown(argv), %error, "cleanup failed"),
                }
            }
            Self::RemoveDir(dir) => {
                if let Err(error) = std::fs::remove_dir_all(dir) {
                    tracing::warn!(dir = %dir.display(), %error, "could not delete directory");
                }
            }
        }
    }

    /// The same as a line of shell, for the watcher.
    fn as_shell(&self) -> String {
        match self {
            Self::Run(argv) => {
                let quoted: Vec<String> = argv.iter().map(|arg| quote(arg)).collect();
                format!("{} >/dev/null 2>&1", quoted.join(" "))
            }
            Self::RemoveDir(dir) => format!("rm -rf -- {}", quote(&dir.to_string_lossy())),
        }
    }
}

/// Undoes what was started for a [`LocatedPostgres`](super::LocatedPostgres) when it drops.
#[derive(Debug, Default)]
pub(super) struct Cleanup {
    /// In order.
    steps: Vec<Step>,
    /// `sh` loop that runs `steps` once this process has gone, in case we never drop.
    watcher: Option<Child>,
}

impl Cleanup {
    /// Nothing to undo: the server was there already.
    pub(super) fn none() -> Self {
        Self::default()
    }

    /// Undo `steps` on drop, or when this process exits without dropping.
    pub(super) fn arm(steps: Vec<Step>) -> Self {
        let watcher = match spawn_watcher(&steps) {
            Ok(child) => Some(child),
            Err(error) => {
                tracing::warn!(%error, "no watcher: a server started here outlives a crash");
                None
            }
        };
        Self { steps, watcher }
    }

    /// Undo nothing after all.
    pub(super) fn disarm(&mut self) {
        self.steps.clear();
        self.stop_watcher();
    }

    fn stop_watcher(&mut self) {
        if let Some(mut watcher) = self.watcher.take() {
            let _ = watcher.kill();
            let _ = watcher.wait();
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.stop_watcher();
        for step in &self.steps {
            step.run_now();
        }
    }
}

/// A shell that polls for this process once a second and, when it is gone, runs `steps`. It gets
/// its own process group and ignores hang-ups and interrupts, so a Ctrl-C or a test runner killing
/// our group does not take it along; its output goes nowhere, so nobody waits on its pipes.
fn spawn_watcher(steps: &[Step]) -> std::io::Result<Child> {
    let mut script = format!(
        "trap '' HUP INT\nwhile kill -0 {} 2>/dev/null; do sleep 1; done\n",
        std::process::id()
    );
    for step in steps {
        script.push_str(&step.as_shell());
        script.push('\n');
    }
    StdCommand::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

/// `text` as one shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_survive_quotes_and_spaces() {
        assert_eq!(quote("it's a dir"), r"'it'\''s a dir'");
        let step = Step::Run(argv(&["pg_ctl", "stop", "-D", "/tmp/a b"]));
        assert_eq!(
            step.as_shell(),
            "'pg_ctl' 'stop' '-D' '/tmp/a b' >/dev/null 2>&1"
        );
    }

    #[test]
    fn tail_keeps_the_last_non_empty_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b | c");
        assert_eq!(tail("", 3), "");
    }
}
