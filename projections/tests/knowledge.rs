//! The knowledge base read model and its full-text search, on SQLite and
//! PostgreSQL.

use domain::actor::Role;
use domain::ids::ArticleId;
use domain::knowledge::{
    Article, ArticleAction, ArticleBody, ArticleCommand, ArticleContent, ArticleTitle, Category,
    Tags,
};
use projections::Projector;
use projections::knowledge::{self, ArticleHit, ArticleView, KnowledgeQuery};
use store::{Backend, both_backends};

mod common;

use common::{World, execute, metadata, person, tenant_id};

impl World {
    async fn run(&self, tenant: &str, article: &str, action: ArticleAction) {
        let admin = person(tenant, "ada", Role::Admin);
        let article = ArticleId::parse(article).unwrap();
        let stream = Article::stream_id(&admin.tenant, &article);
        let metadata = metadata(&admin.tenant);
        let command = ArticleCommand {
            article,
            actor: admin,
            at: self.tick(),
            action,
        };
        execute(&self.articles, &stream, command, metadata)
            .await
            .unwrap();
    }

    async fn write(&self, tenant: &str, id: &str, title: &str, body: &str, tags: &[&str]) {
        self.run(
            tenant,
            id,
            ArticleAction::Create(content(title, body, "help", tags)),
        )
        .await;
    }

    async fn caught_up(&self, projector: &Projector) {
        self.wait_for(projector, &[knowledge::NAME]).await;
    }

    async fn search(&self, tenant: &str, text: &str) -> Vec<ArticleHit> {
        self.search_with(tenant, text, None, &[]).await
    }

    async fn search_with(
        &self,
        tenant: &str,
        text: &str,
        category: Option<&str>,
        tags: &[&str],
    ) -> Vec<ArticleHit> {
        let query = KnowledgeQuery {
            text: text.into(),
            category: category.map(str::to_owned),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            limit: 10,
        };
        knowledge::search(self.log.db(), &tenant_id(tenant), &query)
            .await
            .unwrap()
    }

    async fn list(&self, tenant: &str) -> Vec<ArticleView> {
        knowledge::list(self.log.db(), &tenant_id(tenant), None, 0, 50)
            .await
            .unwrap()
            .0
    }
}

fn content(title: &str, body: &str, category: &str, tags: &[&str]) -> ArticleContent {
    ArticleContent {
        title: ArticleTitle::parse(title).unwrap(),
        body: ArticleBody::parse(body).unwrap(),
        category: Some(Category::parse(category).unwrap()),
        tags: Tags::parse(tags).unwrap(),
    }
}

fn ids(hits: &[ArticleHit]) -> Vec<&str> {
    hits.iter().map(|h| h.article.article_id.as_str()).collect()
}

both_backends!(
    a_term_in_the_title_outranks_the_same_term_deep_in_a_body,
    word_forms_match_and_stop_words_alone_find_nothing,
    category_and_tag_filters_narrow_the_results,
    an_update_replaces_the_indexed_text_and_a_delete_removes_it,
    another_tenants_articles_are_never_found,
    a_rebuild_from_position_zero_gives_the_same_articles_and_index,
);

async fn a_term_in_the_title_outranks_the_same_term_deep_in_a_body(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    let long = format!(
        "{} You can also change your password here. {}",
        "Shipping and returns are explained below. ".repeat(20),
        "Returns take five days. ".repeat(20)
    );
    world
        .write("acme", "kb_body", "Shipping and returns", &long, &[])
        .await;
    world
        .write(
            "acme",
            "kb_title",
            "Password help",
            "Open Settings, then Security.",
            &[],
        )
        .await;
    world
        .write("acme", "kb_other", "Opening hours", "We open at nine.", &[])
        .await;
    world.caught_up(&projector).await;

    let hits = world.search("acme", "password").await;
    assert_eq!(ids(&hits), vec!["kb_title", "kb_body"]);
    assert!(hits[0].score > hits[1].score, "{hits:?}");
    assert_eq!(hits[0].article.version, 1);
    assert!(
        hits[1].snippet.contains("change your password"),
        "{:?}",
        hits[1].snippet
    );
    projector.stop().await;
}

async fn word_forms_match_and_stop_words_alone_find_nothing(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    world
        .write(
            "acme",
            "kb_pw",
            "Resetting a password",
            "Passwords are reset in Settings.",
            &[],
        )
        .await;
    world.caught_up(&projector).await;
    assert_eq!(
        ids(&world.search("acme", "How do I reset my passwords?").await),
        vec!["kb_pw"]
    );
    assert!(world.search("acme", "how do I").await.is_empty());
    assert!(world.search("acme", "").await.is_empty());
    // Query syntax is never interpreted.
    assert!(
        world
            .search("acme", "\"password\" OR NEAR(x) * ) : & |")
            .await
            .len()
            <= 1
    );
    projector.stop().await;
}

async fn category_and_tag_filters_narrow_the_results(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    world
        .run(
            "acme",
            "kb_a",
            ArticleAction::Create(content(
                "Reset password",
                "Reset it in Settings.",
                "account",
                &["password", "reset"],
            )),
        )
        .await;
    world
        .run(
            "acme",
            "kb_b",
            ArticleAction::Create(content(
                "Reset router",
                "Reset the router by unplugging it.",
                "hardware",
                &["router"],
            )),
        )
        .await;
    world.caught_up(&projector).await;
    assert_eq!(world.search("acme", "reset").await.len(), 2);
    assert_eq!(
        ids(&world
            .search_with("acme", "reset", Some("account"), &[])
            .await),
        vec!["kb_a"]
    );
    assert_eq!(
        ids(&world
            .search_with("acme", "reset", None, &["router", "other"])
            .await),
        vec!["kb_b"]
    );
    assert!(
        world
            .search_with("acme", "reset", Some("account"), &["router"])
            .await
            .is_empty()
    );
    // No content words but a filter: the filter alone chooses.
    let by_tag = world.search_with("acme", "", None, &["password"]).await;
    assert_eq!(ids(&by_tag), vec!["kb_a"]);
    assert_eq!(by_tag[0].score, 0.0);
    projector.stop().await;
}

async fn an_update_replaces_the_indexed_text_and_a_delete_removes_it(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    world
        .write(
            "acme",
            "kb_1",
            "Passwords",
            "Reset your password in Settings.",
            &[],
        )
        .await;
    world
        .run(
            "acme",
            "kb_1",
            ArticleAction::Update(content(
                "Billing",
                "Invoices are emailed monthly.",
                "billing",
                &["invoice"],
            )),
        )
        .await;
    world.caught_up(&projector).await;
    assert!(
        world.search("acme", "password").await.is_empty(),
        "the old text is gone"
    );
    let hits = world.search("acme", "invoices").await;
    assert_eq!(ids(&hits), vec!["kb_1"]);
    assert_eq!(hits[0].article.version, 2);
    assert_eq!(hits[0].article.title, "Billing");
    assert_eq!(hits[0].article.tags, vec!["invoice"]);

    world.run("acme", "kb_1", ArticleAction::Delete).await;
    world.caught_up(&projector).await;
    assert!(world.search("acme", "invoices").await.is_empty());
    assert!(world.list("acme").await.is_empty());
    let gone = knowledge::get(
        world.log.db(),
        &tenant_id("acme"),
        &ArticleId::parse("kb_1").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(gone, None);
    projector.stop().await;
}

async fn another_tenants_articles_are_never_found(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    world
        .write(
            "acme",
            "kb_1",
            "Passwords",
            "Reset your password in Settings.",
            &["password"],
        )
        .await;
    world
        .write(
            "globex",
            "kb_1",
            "Passwords",
            "Globex passwords rotate monthly.",
            &["password"],
        )
        .await;
    world.caught_up(&projector).await;
    let acme = world.search("acme", "password").await;
    assert_eq!(acme.len(), 1);
    assert_eq!(acme[0].article.tenant.as_str(), "acme");
    assert!(
        world
            .search_with("initech", "password", None, &["password"])
            .await
            .is_empty()
    );
    assert_eq!(world.list("globex").await.len(), 1);
    projector.stop().await;
}

async fn a_rebuild_from_position_zero_gives_the_same_articles_and_index(backend: Backend) {
    let world = World::new(backend).await;
    let projector = world.projector().await;
    world
        .write(
            "acme",
            "kb_1",
            "Passwords",
            "Reset your password in Settings.",
            &["password"],
        )
        .await;
    world
        .write("acme", "kb_2", "Shipping", "Orders ship in two days.", &[])
        .await;
    world
        .write("globex", "kb_3", "Invoices", "Invoices are emailed.", &[])
        .await;
    world.run("acme", "kb_2", ArticleAction::Delete).await;
    world.caught_up(&projector).await;
    let before = (
        world.list("acme").await,
        world.list("globex").await,
        world.search("acme", "password").await,
    );
    assert_eq!(before.0.len() + before.1.len(), 2);
    projector.stop().await;

    let mut tables = vec!["kb_articles", "projection_checkpoints"];
    if backend == Backend::Sqlite {
        tables.push("kb_articles_fts");
    }
    for table in tables {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(world.log.db().pool())
            .await
            .unwrap();
    }
    assert!(world.search("acme", "password").await.is_empty());
    let projector = world.projector().await;
    world.caught_up(&projector).await;
    assert_eq!(
        (
            world.list("acme").await,
            world.list("globex").await,
            world.search("acme", "password").await
        ),
        before
    );
    projector.stop().await;
}
