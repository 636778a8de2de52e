//! Generates include/cfutures.h from the doc comments in src/ffi/ (and the status constants
//! from the table in src/status.rs) and sets the soname.

use std::env;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let major: u32 = env::var("CARGO_PKG_VERSION_MAJOR").unwrap().parse().unwrap();
    let minor: u32 = env::var("CARGO_PKG_VERSION_MINOR").unwrap().parse().unwrap();
    let patch: u32 = env::var("CARGO_PKG_VERSION_PATCH").unwrap().parse().unwrap();

    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=src/status.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcfutures.so.{major}");
    // Worker threads, thread-local destructors and atfork handlers point into the library:
    // dlclose must never unmap it.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");

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
{statuses}"#,
        number = major * 10000 + minor * 100 + patch,
        statuses = status_constants(&dir.join("src").join("status.rs")),
    ));
    let bindings = cbindgen::Builder::new()
        .with_src(dir.join("src").join("ffi").join("mod.rs")) // the C layer only
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

/// The `CFUT_*` status constants, from the rows of the `statuses!` table in src/status.rs:
/// `Variant = value, c"CFUT_NAME", c"sentence", "doc";`.
fn status_constants(path: &std::path::Path) -> String {
    let src = std::fs::read_to_string(path).expect("src/status.rs");
    let table = src.split("\nstatuses! {").nth(1).expect("the statuses! table");
    let mut out = String::from("\n/* The statuses every fallible function returns (cfut_status). */\n");
    let mut n = 0;
    for line in table.lines().map(str::trim).take_while(|l| *l != "}") {
        let Some((_, rest)) = line.split_once(" = ") else { continue };
        let fields: Vec<&str> = rest.splitn(4, ", ").collect();
        let [value, name, _, doc] = fields[..] else { panic!("bad status row: {line}") };
        let name = name.trim_start_matches("c\"").trim_end_matches('"');
        let doc = doc.trim_end_matches(';').trim_matches('"');
        out.push_str(&format!("/** {doc} */\n#define {name} {value}\n"));
        n += 1;
    }
    assert!(n >= 15, "status table: {n} rows");
    out
}
