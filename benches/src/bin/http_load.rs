//! HTTP/1.1 keep-alive load generator for the side-by-side suite: a
//! separate process with N connections, each keeping one GET in flight;
//! prints requests/s and latency percentiles as `key=value` pairs. See
//! `benches::clients`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", benches::clients::HTTP_USAGE);
        return;
    }
    if let Err(e) = benches::clients::http_main(&args) {
        eprintln!("{e}");
        std::process::exit(2);
    }
}
