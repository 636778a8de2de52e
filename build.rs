//! Generates include/cfutures.h from the doc comments in src/ffi/ and sets the soname.

use std::env;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let major: u32 = env::var("CARGO_PKG_VERSION_MAJOR").unwrap().parse().unwrap();
    let minor: u32 = env::var("CARGO_PKG_VERSION_MINOR").unwrap().parse().unwrap();
    let patch: u32 = env::var("CARGO_PKG_VERSION_PATCH").unwrap().parse().unwrap();

    println!("cargo:rerun-if-changed=src"); // cbindgen reads the whole crate
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcfutures.so.{major}");

    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    config.after_includes = Some(format!(
        r#"
/** The version this header belongs to; compare with cfut_version_number() at run time. */
#define CFUT_VERSION_MAJOR {major}
#define CFUT_VERSION_MINOR {minor}
#define CFUT_VERSION_PATCH {patch}
/** major * 10000 + minor * 100 + patch */
#define CFUT_VERSION_NUMBER {number}
#define CFUT_VERSION_STRING "{major}.{minor}.{patch}"

/** Timeouts are uint64_t nanoseconds; 0 polls. */
#define CFUT_FOREVER UINT64_MAX
#define CFUT_MICROSECONDS(n) ((uint64_t)(n) * UINT64_C(1000))
#define CFUT_MILLISECONDS(n) ((uint64_t)(n) * UINT64_C(1000000))
#define CFUT_SECONDS(n) ((uint64_t)(n) * UINT64_C(1000000000))
"#,
        number = major * 10000 + minor * 100 + patch
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("generating include/cfutures.h");
    let mut out = Vec::new();
    bindings.write(&mut out);
    let path = dir.join("include").join("cfutures.h");
    if std::fs::read(&path).ok().as_deref() != Some(&out[..]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &out).expect("writing include/cfutures.h");
    }
}
