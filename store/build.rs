//! `sqlx::migrate!` embeds the migrations at compile time; without this,
//! cargo would not rebuild the store when a migration is added.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
