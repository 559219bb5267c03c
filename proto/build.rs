//! Compiles every `.proto` under this folder with protox (a pure-Rust
//! compiler), so building needs no system `protoc`. The encoded descriptor set
//! is kept for gRPC server reflection.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let mut files = Vec::new();
    collect_protos(&root.join("louyu"), &mut files)?;
    collect_protos(&root.join("google"), &mut files)?;
    files.sort();
    // Directories, so that an added file triggers a rebuild too.
    println!("cargo:rerun-if-changed={}", root.join("louyu").display());
    println!("cargo:rerun-if-changed={}", root.join("google").display());

    let file_descriptors = protox::compile(&files, [&root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("louyu_descriptor.bin"),
        prost::Message::encode_to_vec(&file_descriptors),
    )?;

    // Type names let events name their payload type from the message itself.
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        // Contacts are personal data: their Debug output is written by hand
        // (src/lib.rs) so that no log line can carry a name or phone number.
        .skip_debug(["louyu.registry.v1.Contact"])
        .compile_fds_with_config(file_descriptors, config)?;
    Ok(())
}

fn collect_protos(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, files)?;
        } else if path
            .extension()
            .is_some_and(|extension| extension == "proto")
        {
            files.push(path);
        }
    }
    Ok(())
}
