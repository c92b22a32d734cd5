//! The `trellis` binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    gateway::cli::main()
}
