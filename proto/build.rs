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

    let mut compiler = protox::Compiler::new([&root])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(&files)?;
    let file_descriptors = compiler.file_descriptor_set();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // Encoded from protox's own pool, not from `file_descriptors`:
    // `prost-types` drops extension options, and the gateway reads its REST
    // routes from the `google.api.http` options in this set.
    std::fs::write(
        out_dir.join("louyu_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    std::fs::write(
        out_dir.join("request_traits.rs"),
        request_trait_impls(&file_descriptors),
    )?;

    // Type names let events name their payload type from the message itself,
    // and handlers their method from the request.
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        // Contacts are personal data: their Debug output is written by hand
        // (src/lib.rs) so that no log line can carry a name or phone number.
        .skip_debug(["louyu.registry.v1.Contact"])
        .compile_fds_with_config(file_descriptors, config)?;
    Ok(())
}

/// Implements `IdempotentRequest` for every Louyu message with a
/// `string request_id`, and `ListRequest` for every one with `string parent`,
/// `int32 page_size` and `string page_token`, so no list of them is kept by
/// hand and a new request gets them by having the fields. A response of a
/// `next_page_token` and one repeated message field gets `ListResponse`.
fn request_trait_impls(file_descriptors: &prost_types::FileDescriptorSet) -> String {
    use prost_types::field_descriptor_proto::{Label, Type};
    let mut code = String::new();
    for file in &file_descriptors.file {
        let package = file.package();
        let Some(path) = package.strip_prefix("louyu.") else {
            continue;
        };
        let module = format!("crate::louyu::{}", path.replace('.', "::"));
        for message in &file.message_type {
            let has = |name: &str, field_type: Type| {
                message.field.iter().any(|field| {
                    field.name() == name
                        && field.r#type() == field_type
                        && field.label() == Label::Optional
                        && field.oneof_index.is_none()
                })
            };
            let rust_type = format!("{module}::{}", message.name());
            if has("request_id", Type::String) {
                code.push_str(&format!(
                    "impl crate::IdempotentRequest for {rust_type} {{\n\
                     fn request_id(&self) -> &str {{ &self.request_id }}\n\
                     fn clear_request_id(&mut self) {{ self.request_id.clear(); }}\n}}\n"
                ));
            }
            if has("parent", Type::String)
                && has("page_size", Type::Int32)
                && has("page_token", Type::String)
            {
                let filter = if has("filter", Type::String) {
                    "&self.filter"
                } else {
                    "\"\""
                };
                code.push_str(&format!(
                    "impl crate::ListRequest for {rust_type} {{\n\
                     fn parent(&self) -> &str {{ &self.parent }}\n\
                     fn filter(&self) -> &str {{ {filter} }}\n\
                     fn page_size(&self) -> i32 {{ self.page_size }}\n\
                     fn page_token(&self) -> &str {{ &self.page_token }}\n}}\n"
                ));
            }
            if let [items, token] = message.field.as_slice()
                && token.name() == "next_page_token"
                && items.label() == Label::Repeated
                && items.r#type() == Type::Message
                && items.type_name().starts_with(".louyu.")
            {
                let item_type = format!("crate{}", items.type_name().replace('.', "::"));
                let items_field = items.name();
                code.push_str(&format!(
                    "impl crate::ListResponse for {rust_type} {{\n\
                     type Item = {item_type};\n\
                     fn from_page(items: Vec<{item_type}>, next_page_token: String) -> Self {{\n\
                     Self {{ {items_field}: items, next_page_token }}\n}}\n}}\n"
                ));
            }
        }
    }
    code
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
