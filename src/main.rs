//! `ciq` binary: parse, run, map the outcome to an exit code. Everything else is in the library.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ciq::cli::main()
}
