//! Cargo requires a build script for a package with a `links` key. It also
//! says whether the variadic bookkeeping hooks (`fcntl`, `ioctl`) can be
//! defined for the target (see `track.rs`): `cfg(variadic_hooks)` on Linux
//! on x86_64 and aarch64, where a fixed register-width third argument is
//! ABI-compatible with their variadic calls.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(variadic_hooks)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os == "linux" && matches!(arch.as_str(), "x86_64" | "aarch64") {
        println!("cargo:rustc-cfg=variadic_hooks");
    }
}
