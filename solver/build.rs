//! Links the C++ runtime: a prebuilt static libhighs.a found through pkg-config
//! does not declare it (its highs.pc has an empty Libs.private).
fn main() {
    println!("cargo:rustc-link-lib=stdc++");
    println!("cargo:rerun-if-changed=build.rs");
}
