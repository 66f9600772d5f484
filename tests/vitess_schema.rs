//! Checks that the MySQL schema is shaped for sharding by team and that the
//! Vitess VSchema and its docs page cover every table of it.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// The bookkeeping table of the migration runner; each MySQL (each shard)
/// keeps its own, so it has no team and no vindex.
const UNSHARDED_TABLES: &[&str] = &["schema_migrations"];

/// Tables that belong to no team, with the column they are sharded by instead:
/// the job consumers' offsets are keyed by queue topic.
const SHARDED_BY_OTHER_COLUMN: &[(&str, &str)] = &[("queue_offsets", "topic")];

/// Returns the column a table is sharded by.
fn shard_column(table: &str) -> &'static str {
    SHARDED_BY_OTHER_COLUMN
        .iter()
        .find(|(name, _)| *name == table)
        .map_or("team_id", |(_, column)| column)
}

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()))
}

/// Returns every `CREATE TABLE` statement of the MySQL migrations, as (table
/// name, statement text).
fn create_tables() -> Vec<(String, String)> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/mysql");
    let mut files: Vec<_> = std::fs::read_dir(&directory)
        .expect("schema/mysql exists")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "sql"))
        .collect();
    files.sort();
    let mut tables = Vec::new();
    for file in files {
        let sql = std::fs::read_to_string(&file).expect("migration file is readable");
        for statement in sql.split(";\n") {
            let statement: String = statement
                .lines()
                .filter(|line| !line.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            if let Some(rest) = statement.trim().strip_prefix("CREATE TABLE ") {
                let name = rest
                    .split_whitespace()
                    .next()
                    .expect("a table name")
                    .to_owned();
                tables.push((name, statement));
            }
        }
    }
    tables
}

#[test]
fn every_key_starts_with_the_shard_column() {
    let tables = create_tables();
    assert!(tables.len() >= 7, "found {} tables", tables.len());
    for (name, statement) in &tables {
        if UNSHARDED_TABLES.contains(&name.as_str()) {
            continue;
        }
        let shard_column = shard_column(name);
        assert!(
            statement.contains(&format!("{shard_column} ")),
            "{name} has no {shard_column} column"
        );
        for line in statement.lines().map(str::trim) {
            let is_key = line.starts_with("PRIMARY KEY")
                || line.starts_with("UNIQUE KEY")
                || line.starts_with("KEY ");
            if is_key {
                let columns = line
                    .split_once('(')
                    .map(|(_, columns)| columns)
                    .unwrap_or("");
                assert!(
                    columns.starts_with(shard_column),
                    "{name}: key does not start with {shard_column}: {line}"
                );
            }
        }
        assert!(
            !statement.contains("AUTO_INCREMENT"),
            "{name} uses AUTO_INCREMENT"
        );
    }
}

#[test]
fn vschema_shards_every_table_by_team() {
    let vschema: Value =
        serde_json::from_str(&read("schema/vitess/vschema.json")).expect("vschema.json is JSON");
    assert_eq!(vschema["sharded"], true);
    let vschema_tables: BTreeSet<String> = vschema["tables"]
        .as_object()
        .expect("tables")
        .keys()
        .cloned()
        .collect();
    let schema_tables: BTreeSet<String> = create_tables()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| !UNSHARDED_TABLES.contains(&name.as_str()))
        .collect();
    assert_eq!(vschema_tables, schema_tables);

    for table in &vschema_tables {
        let vindexes = &vschema["tables"][table]["column_vindexes"];
        assert_eq!(
            vindexes[0]["column"],
            shard_column(table),
            "{table}: {vindexes}"
        );
        let vindex = vindexes[0]["name"].as_str().expect("vindex name");
        assert!(
            vschema["vindexes"][vindex].is_object(),
            "{table} uses undefined vindex {vindex}"
        );
    }
}

#[test]
fn vitess_docs_describe_every_table() {
    let docs = read("docs/vitess.md");
    for (name, _) in create_tables() {
        assert!(
            docs.contains(&format!("`{name}`")),
            "docs/vitess.md does not describe `{name}`"
        );
    }
}
