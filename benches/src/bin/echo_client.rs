//! TCP echo client for the side-by-side suite: a separate process with N
//! connections, each keeping one message in flight; prints round trips/s
//! and latency percentiles as `key=value` pairs. See `benches::clients`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", benches::clients::ECHO_USAGE);
        return;
    }
    if let Err(e) = benches::clients::echo_main(&args) {
        eprintln!("{e}");
        std::process::exit(2);
    }
}
