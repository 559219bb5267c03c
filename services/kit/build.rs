// `sqlx::migrate!` embeds the migration files at compile time, and cargo
// does not know it reads them: rebuild when one is added or changed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
