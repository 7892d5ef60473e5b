//! Given/when/then tests for articles, and the parsed values beside them.

use cqrs_es::test::TestFramework;

use super::*;
use crate::testing::{actor, at, tenant};

type ArticleTest = TestFramework<Article>;

fn admin() -> Actor {
    actor("ada", Role::Admin)
}

fn id() -> ArticleId {
    ArticleId::parse("kb_1").unwrap()
}

fn content(title: &str, tags: &[&str]) -> ArticleContent {
    ArticleContent {
        title: ArticleTitle::parse(title).unwrap(),
        body: ArticleBody::parse("Open Settings, then Security.").unwrap(),
        category: Some(Category::parse("account").unwrap()),
        tags: Tags::parse(tags).unwrap(),
    }
}

fn command(who: &Actor, second: u32, action: ArticleAction) -> ArticleCommand {
    ArticleCommand {
        article: id(),
        actor: who.clone(),
        at: at(second),
        action,
    }
}

fn written(version: u64, title: &str, tags: &[&str], second: u32) -> ArticleWritten {
    ArticleWritten {
        tenant: tenant(),
        article_id: id(),
        version,
        title: title.into(),
        body: "Open Settings, then Security.".into(),
        category: Some("account".into()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        by: UserId::parse("ada").unwrap(),
        by_name: "ada name".into(),
        at: at(second),
    }
}

fn created() -> ArticleEvent {
    ArticleEvent::ArticleCreated(written(1, "Passwords", &["password"], 0))
}

#[test]
fn an_admin_creates_an_article_at_version_one() {
    ArticleTest::with(())
        .given_no_previous_events()
        .when(command(
            &admin(),
            0,
            ArticleAction::Create(content("Passwords", &["Password", "password"])),
        ))
        .then_expect_events(vec![created()]);
}

#[test]
fn only_admins_write_articles() {
    for role in [Role::Agent, Role::Supervisor, Role::Customer] {
        ArticleTest::with(())
            .given_no_previous_events()
            .when(command(
                &actor("bob", role),
                0,
                ArticleAction::Create(content("Passwords", &[])),
            ))
            .then_expect_error(DomainError::Forbidden(
                "only admins write knowledge-base articles".into(),
            ));
    }
}

#[test]
fn an_update_replaces_the_article_and_bumps_its_version() {
    ArticleTest::with(())
        .given(vec![created()])
        .when(command(
            &admin(),
            5,
            ArticleAction::Update(content("Resetting passwords", &["password", "reset"])),
        ))
        .then_expect_events(vec![ArticleEvent::ArticleUpdated(written(
            2,
            "Resetting passwords",
            &["password", "reset"],
            5,
        ))]);
}

#[test]
fn an_update_that_changes_nothing_records_nothing() {
    ArticleTest::with(())
        .given(vec![created()])
        .when(command(
            &admin(),
            5,
            ArticleAction::Update(content("Passwords", &["password"])),
        ))
        .then_expect_events(vec![]);
}

#[test]
fn creating_twice_is_refused() {
    ArticleTest::with(())
        .given(vec![created()])
        .when(command(
            &admin(),
            5,
            ArticleAction::Create(content("Passwords", &[])),
        ))
        .then_expect_error(DomainError::InvalidState(
            "article kb_1 exists already".into(),
        ));
}

#[test]
fn a_deleted_article_is_gone_for_updates_and_deletes() {
    let deleted = ArticleEvent::ArticleDeleted(ArticleDeleted {
        tenant: tenant(),
        article_id: id(),
        version: 2,
        by: UserId::parse("ada").unwrap(),
        by_name: "ada name".into(),
        at: at(9),
    });
    ArticleTest::with(())
        .given(vec![created()])
        .when(command(&admin(), 9, ArticleAction::Delete))
        .then_expect_events(vec![deleted.clone()]);
    for action in [
        ArticleAction::Delete,
        ArticleAction::Update(content("Back", &[])),
    ] {
        ArticleTest::with(())
            .given(vec![created(), deleted.clone()])
            .when(command(&admin(), 10, action))
            .then_expect_error(DomainError::NotFound("article kb_1".into()));
    }
    ArticleTest::with(())
        .given_no_previous_events()
        .when(command(&admin(), 0, ArticleAction::Delete))
        .then_expect_error(DomainError::NotFound("article kb_1".into()));
}

#[test]
fn titles_bodies_categories_and_tags_are_bounded_and_clean() {
    assert_eq!(ArticleTitle::parse("  Hi  ").unwrap().as_str(), "Hi");
    assert!(ArticleTitle::parse("   ").is_err());
    assert!(ArticleTitle::parse(&"x".repeat(201)).is_err());
    assert!(ArticleTitle::parse("two\nlines").is_err());
    assert!(ArticleBody::parse("line one\nline two").is_ok());
    assert!(ArticleBody::parse("bell\u{7}").is_err());
    assert!(ArticleBody::parse(&"x".repeat(20_001)).is_err());
    assert!(Category::parse(&"c".repeat(65)).is_err());
    assert_eq!(
        Tags::parse(&["Reset", "reset", " Password "])
            .unwrap()
            .as_slice(),
        ["reset", "password"]
    );
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    assert!(Tags::parse(&many).is_err());
    assert!(Tags::parse(&["x".repeat(41)]).is_err());
    assert!(Tags::parse(&[""]).is_err());
}

#[test]
fn articles_live_on_their_own_streams() {
    let stream = Article::stream_id(&tenant(), &id());
    assert_eq!(stream, "kb_article/acme/kb_1");
    assert!(Article::owns_stream(&stream));
    assert!(!Article::owns_stream("conversation/acme/kb_1"));
}

#[test]
fn query_terms_are_the_content_words_once() {
    assert_eq!(
        query_terms("How do I reset my password? Reset it NOW, \"please\"; it's urgent"),
        vec!["reset", "password", "urgent"]
    );
    assert!(query_terms("how do I").is_empty());
}

#[test]
fn the_stop_word_list_is_sorted_for_binary_search() {
    let mut sorted = STOP_WORDS.to_vec();
    sorted.sort_unstable();
    assert_eq!(sorted, STOP_WORDS);
}
