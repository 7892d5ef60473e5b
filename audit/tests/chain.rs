//! The record format, its hash chain, and what verification catches.

mod common;

use audit::{
    ChainWriter, ExportEvent, Format, GENESIS, Problem, SignatureStatus, detect_format,
    manifest_path_for, verify,
};
use common::{Edit, check, events, export, lines, manifest};
use serde_json::{Value, json};
use uuid::Uuid;

const FORMATS: [Format; 2] = [Format::Jsonl, Format::Csv];

/// How many lines come before the first record.
fn header_lines(format: Format) -> usize {
    match format {
        Format::Jsonl => 0,
        Format::Csv => 1,
    }
}

fn find_problem(bytes: &[u8], format: Format, manifest: Option<&audit::Manifest>) -> Problem {
    let report = check(bytes, format, manifest);
    assert!(!report.is_ok());
    report
        .problem
        .expect("verification should have found a problem")
}

#[test]
fn a_fixed_event_has_a_fixed_canonical_form_and_hash() {
    let event = ExportEvent {
        position: 42,
        event_id: Uuid::parse_str("0192d5a8-7c3e-7b1a-9f00-123456789abc").unwrap(),
        event_type: "MessagePosted".to_owned(),
        schema_version: 2,
        stream_id: "conversation-7".to_owned(),
        tenant: "acme".to_owned(),
        // The nanoseconds are cut to the six digits the format keeps.
        recorded_at: "2026-01-02T03:04:05.123456789Z".parse().unwrap(),
        actor: Some("user-1".to_owned()),
        payload: json!({"text": "héllo \"world\"", "z": [1, 2], "n": 1.5, "a": null}),
    };
    let (bytes, summary) = export(std::slice::from_ref(&event), Format::Jsonl);
    // Computed outside this crate: printf '%s' '<canonical>' | sha256sum
    let expected_hash = "3c2db69bcb14fe5e46a863ceaeb4fef43ab42e14aa0583a61c3d7ce87cb6031c";
    let expected_line = format!(
        concat!(
            r#"{{"position":42,"event_id":"0192d5a8-7c3e-7b1a-9f00-123456789abc","type":"MessagePosted","#,
            r#""schema_version":2,"stream":"conversation-7","tenant":"acme","time":"2026-01-02T03:04:05.123456Z","#,
            r#""actor":"user-1","payload":{{"a":null,"n":1.5,"text":"héllo \"world\"","z":[1,2]}},"#,
            r#""prev_hash":"{}","hash":"{}"}}"#,
            "\n"
        ),
        GENESIS, expected_hash
    );
    assert_eq!(String::from_utf8(bytes.clone()).unwrap(), expected_line);

    let mut record: Value = serde_json::from_slice(&bytes).unwrap();
    record.as_object_mut().unwrap().remove("hash");
    let canonical = serde_json_canonicalizer::to_string(&record).unwrap();
    assert_eq!(
        canonical,
        concat!(
            r#"{"actor":"user-1","event_id":"0192d5a8-7c3e-7b1a-9f00-123456789abc","#,
            r#""payload":{"a":null,"n":1.5,"text":"héllo \"world\"","z":[1,2]},"position":42,"#,
            r#""prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","#,
            r#""schema_version":2,"stream":"conversation-7","tenant":"acme","#,
            r#""time":"2026-01-02T03:04:05.123456Z","type":"MessagePosted"}"#
        )
    );
    assert_eq!(summary.head_hash, expected_hash);
    assert_eq!(GENESIS, "0".repeat(64));
}

#[test]
fn each_record_links_to_the_previous_hash() {
    let (bytes, summary) = export(&events(3), Format::Jsonl);
    let records: Vec<Value> = lines(&bytes)
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(records[0]["prev_hash"], GENESIS);
    assert_eq!(records[1]["prev_hash"], records[0]["hash"]);
    assert_eq!(records[2]["prev_hash"], records[1]["hash"]);
    assert_eq!(records[2]["hash"], summary.head_hash.as_str());
    assert_eq!(records[0]["actor"], Value::Null, "event 0 has no actor");
}

#[test]
fn jsonl_and_csv_of_the_same_events_have_the_same_head_hash_and_both_verify() {
    let events = events(20);
    let (jsonl, jsonl_summary) = export(&events, Format::Jsonl);
    let (csv, csv_summary) = export(&events, Format::Csv);
    assert_eq!(jsonl_summary.head_hash, csv_summary.head_hash);
    assert_ne!(jsonl_summary.sha256, csv_summary.sha256);
    for (bytes, summary, format) in [
        (jsonl, jsonl_summary, Format::Jsonl),
        (csv, csv_summary, Format::Csv),
    ] {
        let manifest = manifest(&summary, format);
        let report = check(&bytes, format, Some(&manifest));
        assert!(report.is_ok(), "{format}: {:?}", report.problem);
        assert_eq!(report.count, 20);
        assert_eq!(report.first_position, Some(10));
        assert_eq!(report.last_position, Some(10 + 3 * 19));
        assert_eq!(report.head_hash, summary.head_hash);
        assert_eq!(report.sha256, summary.sha256);
        assert_eq!(report.signature, SignatureStatus::Unsigned);
        assert_eq!(
            (summary.count, summary.first_position, summary.last_position),
            (20, Some(10), Some(67))
        );
    }
}

#[test]
fn csv_quotes_cells_with_newlines_commas_and_quotes_and_still_verifies() {
    let mut events = events(3);
    events[1].stream_id = "line one\nline \"two\", three".to_owned();
    events[2].actor = Some("a,b\r\nc".to_owned());
    let (jsonl, jsonl_summary) = export(&events, Format::Jsonl);
    let (csv, csv_summary) = export(&events, Format::Csv);
    assert_eq!(jsonl_summary.head_hash, csv_summary.head_hash);
    assert!(check(&jsonl, Format::Jsonl, None).is_ok());
    let report = check(
        &csv,
        Format::Csv,
        Some(&manifest(&csv_summary, Format::Csv)),
    );
    assert!(report.is_ok(), "{:?}", report.problem);
    assert_eq!(report.count, 3);
}

#[test]
fn an_empty_actor_is_written_as_null_in_both_formats() {
    let mut events = events(2);
    events[1].actor = Some(String::new());
    let (jsonl, jsonl_summary) = export(&events, Format::Jsonl);
    let (csv, csv_summary) = export(&events, Format::Csv);
    assert_eq!(jsonl_summary.head_hash, csv_summary.head_hash);
    let second: Value = serde_json::from_slice(&lines(&jsonl)[1]).unwrap();
    assert_eq!(second["actor"], Value::Null);
    assert!(check(&csv, Format::Csv, None).is_ok());
}

#[test]
fn editing_one_payload_character_of_any_record_is_a_hash_mismatch_at_that_record() {
    let events = events(20);
    for format in FORMATS {
        let (bytes, summary) = export(&events, format);
        let manifest = manifest(&summary, format);
        for (i, event) in events.iter().enumerate() {
            let mut lines = lines(&bytes);
            let line = &mut lines[i + header_lines(format)];
            let at = line
                .windows(7)
                .position(|w| w == b"message")
                .expect("the payload text");
            line[at + 1] = b'a';
            let problem = find_problem(&lines.concat(), format, Some(&manifest));
            assert_eq!(
                (problem.record, problem.position),
                ((i + 1) as u64, Some(event.position)),
                "{format} {i}"
            );
            assert!(
                problem.reason.starts_with("hash mismatch"),
                "{format} {i}: {problem}"
            );
        }
    }
}

#[test]
fn deleting_any_record_breaks_the_chain_at_the_next_one_or_mismatches_the_manifest() {
    let events = events(20);
    for format in FORMATS {
        let (bytes, summary) = export(&events, format);
        let manifest = manifest(&summary, format);
        for i in 0..events.len() {
            let mut lines = lines(&bytes);
            lines.remove(i + header_lines(format));
            let tampered = lines.concat();
            let problem = find_problem(&tampered, format, Some(&manifest));
            if i + 1 < events.len() {
                assert_eq!(
                    (problem.record, problem.position),
                    ((i + 1) as u64, Some(events[i + 1].position))
                );
                assert!(
                    problem.reason.starts_with("chain broken"),
                    "{format} {i}: {problem}"
                );
            } else {
                // The chain of the first 19 is intact: only the manifest knows.
                assert!(check(&tampered, format, None).is_ok());
                assert_eq!(problem.record, 0);
                assert_eq!(
                    problem.reason,
                    "manifest mismatch: the file has 19 records, the manifest says 20"
                );
            }
        }
    }
}

#[test]
fn swapping_any_record_with_the_next_breaks_the_chain() {
    let events = events(20);
    for format in FORMATS {
        let (bytes, summary) = export(&events, format);
        let manifest = manifest(&summary, format);
        for i in 0..events.len() - 1 {
            let mut lines = lines(&bytes);
            lines.swap(i + header_lines(format), i + 1 + header_lines(format));
            let problem = find_problem(&lines.concat(), format, Some(&manifest));
            assert_eq!(
                (problem.record, problem.position),
                ((i + 1) as u64, Some(events[i + 1].position))
            );
            assert!(
                problem.reason.starts_with("chain broken"),
                "{format} {i}: {problem}"
            );
        }
    }
}

#[test]
fn truncating_the_last_record_is_caught_by_the_manifest_or_as_a_broken_record() {
    let events = events(20);
    for format in FORMATS {
        let (bytes, summary) = export(&events, format);
        let manifest = manifest(&summary, format);
        let last_line = lines(&bytes).last().unwrap().len();
        let whole = &bytes[..bytes.len() - last_line];
        let problem = find_problem(whole, format, Some(&manifest));
        assert_eq!(
            problem.to_string(),
            "manifest mismatch: the file has 19 records, the manifest says 20"
        );

        // Only the final newline cut: the records are intact, the file is not.
        let problem = find_problem(&bytes[..bytes.len() - 1], format, Some(&manifest));
        assert!(
            problem
                .reason
                .starts_with("manifest mismatch: the file's SHA-256 is"),
            "{problem}"
        );

        // Cut inside the last record, anywhere: that record is reported.
        for cut in [2, 30, 80, last_line / 2, last_line - 1] {
            let problem = find_problem(&bytes[..bytes.len() - cut], format, Some(&manifest));
            assert_eq!(problem.record, 20, "{format}, cut {cut}: {problem}");
        }
    }
}

#[test]
fn a_cut_without_a_count_change_is_caught_by_head_hash_and_file_hash() {
    let events = events(5);
    for format in FORMATS {
        let (bytes, summary) = export(&events, format);
        let (_, shorter) = export(&events[..4], format);
        // A manifest for the first four records, as if the fifth were appended later.
        let mut manifest = manifest(&shorter, format);
        manifest.count = 5;
        manifest.last_position = Some(events[4].position);
        assert!(
            find_problem(&bytes, format, Some(&manifest))
                .reason
                .contains("head hash")
        );
        manifest.head_hash = summary.head_hash.clone();
        assert!(
            find_problem(&bytes, format, Some(&manifest))
                .reason
                .contains("SHA-256")
        );
        manifest.file_sha256 = summary.sha256.clone();
        assert!(check(&bytes, format, Some(&manifest)).is_ok());
    }
}

#[test]
fn every_manifest_count_and_position_edit_is_named() {
    let events = events(20);
    for format in FORMATS {
        let (bytes, summary) = export(&events, format);
        let good = manifest(&summary, format);
        let cases: [(Edit, &str); 5] = [
            (
                |m| m.count = 21,
                "manifest mismatch: the file has 20 records, the manifest says 21",
            ),
            (
                |m| m.first_position = Some(9),
                "manifest mismatch: the file's first position is 10, the manifest says 9",
            ),
            (
                |m| m.last_position = None,
                "manifest mismatch: the file's last position is 67, the manifest says none",
            ),
            (
                |m| m.head_hash = GENESIS.to_owned(),
                "manifest mismatch: the file's head hash is ",
            ),
            (
                |m| m.file_sha256 = "ab".repeat(32),
                "manifest mismatch: the file's SHA-256 is ",
            ),
        ];
        for (edit, expected) in cases {
            let mut manifest = good.clone();
            edit(&mut manifest);
            let problem = find_problem(&bytes, format, Some(&manifest));
            assert!(
                problem.to_string().starts_with(expected),
                "{format}: {problem}"
            );
        }
    }
}

#[test]
fn positions_must_strictly_increase() {
    let mut events = events(3);
    events[2].position = events[1].position;
    let mut writer = ChainWriter::new(Vec::new(), Format::Jsonl).unwrap();
    writer.write(&events[0]).unwrap();
    writer.write(&events[1]).unwrap();
    let err = writer.write(&events[2]).unwrap_err();
    assert!(
        matches!(
            err,
            audit::AuditError::OutOfOrder {
                previous: 13,
                position: 13
            }
        ),
        "{err}"
    );

    // A chain that is intact but out of order, as a buggy exporter could write.
    let (a, _) = export(&events[..2], Format::Jsonl);
    let mut second: Value = serde_json::from_slice(&lines(&a)[1]).unwrap();
    let map = second.as_object_mut().unwrap();
    map.remove("hash");
    map.insert("prev_hash".into(), second_prev(&a).into());
    map.insert("position".into(), 10.into());
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        serde_json_canonicalizer::to_vec(&second).unwrap(),
    ));
    second
        .as_object_mut()
        .unwrap()
        .insert("hash".into(), hash.into());
    let mut tampered = lines(&a)[0].clone();
    tampered.extend(serde_json::to_vec(&second).unwrap());
    tampered.push(b'\n');
    let problem = find_problem(&tampered, Format::Jsonl, None);
    assert_eq!(
        problem.to_string(),
        "record 2 (position 10): position 10 does not follow position 10"
    );
}

fn second_prev(bytes: &[u8]) -> String {
    let first: Value = serde_json::from_slice(&lines(bytes)[0]).unwrap();
    first["hash"].as_str().unwrap().to_owned()
}

#[test]
fn garbage_lines_and_rows_are_reported_as_unparseable() {
    let (jsonl, _) = export(&events(3), Format::Jsonl);
    let mut lines_ = lines(&jsonl);
    lines_.insert(1, b"not json\n".to_vec());
    let problem = find_problem(&lines_.concat(), Format::Jsonl, None);
    assert_eq!((problem.record, problem.position), (2, None));
    assert!(problem.reason.starts_with("unparseable line"), "{problem}");

    let mut extra_key: Value = serde_json::from_slice(&lines(&jsonl)[0]).unwrap();
    extra_key
        .as_object_mut()
        .unwrap()
        .insert("note".into(), "hidden".into());
    let problem = find_problem(
        &serde_json::to_vec(&extra_key).unwrap(),
        Format::Jsonl,
        None,
    );
    assert!(problem.reason.contains("unknown field"), "{problem}");

    let (csv, _) = export(&events(3), Format::Csv);
    let mut rows = lines(&csv);
    rows.insert(2, b"1,2,3\n".to_vec());
    let problem = find_problem(&rows.concat(), Format::Csv, None);
    assert_eq!(problem.record, 2);
    assert!(problem.reason.starts_with("unparseable row"), "{problem}");

    let mut rows = lines(&csv);
    rows[0] = b"position,event_id\n".to_vec();
    assert_eq!(find_problem(&rows.concat(), Format::Csv, None).record, 0);
}

#[test]
fn an_empty_export_has_the_genesis_head_and_verifies() {
    for format in FORMATS {
        let (bytes, summary) = export(&[], format);
        assert_eq!(
            (summary.count, summary.first_position, summary.last_position),
            (0, None, None)
        );
        assert_eq!(summary.head_hash, GENESIS);
        let manifest = manifest(&summary, format);
        let report = check(&bytes, format, Some(&manifest));
        assert!(report.is_ok(), "{format}: {:?}", report.problem);
        assert_eq!((report.count, report.head_hash.as_str()), (0, GENESIS));
    }
    assert!(export(&[], Format::Jsonl).0.is_empty());
    assert_eq!(
        export(&[], Format::Csv).0,
        b"position,event_id,type,schema_version,stream,tenant,time,actor,payload,prev_hash,hash\n"
    );
}

#[test]
fn verify_reads_files_detects_their_format_and_uses_the_saved_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let events = events(7);
    for format in FORMATS {
        let path = dir.path().join(format!("export.{format}"));
        let mut writer = ChainWriter::new(std::fs::File::create(&path).unwrap(), format).unwrap();
        for event in &events {
            writer.write(event).unwrap();
        }
        let summary = writer.finish().unwrap();
        assert_eq!(detect_format(&path).unwrap(), format);

        let manifest_path = manifest_path_for(&path);
        assert_eq!(
            manifest_path.file_name().unwrap().to_str().unwrap(),
            format!("export.{format}.manifest.json")
        );
        manifest(&summary, format).save(&manifest_path).unwrap();
        let loaded = audit::Manifest::load(&manifest_path).unwrap();
        assert_eq!(loaded, manifest(&summary, format));

        let report = verify(&path, Some(&loaded), None).unwrap();
        assert!(report.is_ok(), "{format}: {:?}", report.problem);
        assert_eq!(report.count, 7);
        let report = verify(&path, None, None).unwrap();
        assert!(report.is_ok());
        assert_eq!(report.sha256, summary.sha256);
    }
    assert!(matches!(
        verify(&dir.path().join("missing"), None, None),
        Err(audit::AuditError::Io(_))
    ));
    std::fs::write(dir.path().join("bad.manifest.json"), "{}").unwrap();
    assert!(matches!(
        audit::Manifest::load(&dir.path().join("bad.manifest.json")),
        Err(audit::AuditError::Manifest { .. })
    ));
}

#[test]
fn the_report_counts_the_records_before_a_problem_and_hashes_the_whole_file() {
    let events = events(10);
    let (bytes, summary) = export(&events, Format::Jsonl);
    let mut lines = lines(&bytes);
    lines.remove(4);
    let tampered = lines.concat();
    let report = check(&tampered, Format::Jsonl, None);
    assert_eq!(report.count, 4);
    assert_eq!(report.last_position, Some(events[3].position));
    assert_eq!(
        report.sha256,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&tampered))
    );
    assert_ne!(report.sha256, summary.sha256);
}
