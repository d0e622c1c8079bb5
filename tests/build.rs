//! Builds `csrc/gpnet.c`, the tests' own C socket client: a stand-in for a
//! C driver (libpq, libmariadb) that does its own socket, connect, send,
//! poll/select and recv, which the `libc` patch module must make green.

fn main() {
    println!("cargo:rerun-if-changed=csrc/gpnet.c");
    cc::Build::new().file("csrc/gpnet.c").warnings(true).extra_warnings(true).compile("gpnet");
}
