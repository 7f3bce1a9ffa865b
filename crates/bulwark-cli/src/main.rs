//! `bulwark`: the command-line program. Thin: parses arguments, calls the crates,
//! reports errors with context and maps them to exit codes.

fn main() {
    println!("bulwark {}", env!("CARGO_PKG_VERSION"));
}
