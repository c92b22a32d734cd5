//! The `trellis` binary.

use std::process::ExitCode;

/// mimalloc rather than glibc's malloc. A GraphQL response is built from many small,
/// short-lived allocations (values, strings, boxed futures) made and freed on every worker
/// thread; in issue #18's profile glibc's malloc and free took about a seventh of the CPU,
/// part of it waiting on arena locks. mimalloc serves them from thread-local free lists.
/// Only the binary sets it: the library and its tests keep the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    gateway::cli::main()
}
