//! The `marquee` binary: parses the command line and hands over to the library.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    marquee::logging::init();
    let cli = marquee::cli::Cli::parse();
    let result = match cli.command {
        Some(command) => marquee::cli::run(&cli.connection, command),
        None => marquee::cli::run_window(&cli.connection),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole chain on one line: "import: ratings.csv, line 7: …".
            eprintln!("marquee: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
