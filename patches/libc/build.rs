//! Cargo requires a build script for a package with a `links` key; this one
//! only declares that nothing outside it affects the build.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
