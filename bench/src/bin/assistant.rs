//! The assistant's work per question, on a knowledge base of N articles:
//! seeds the articles through the event log, lets the `kb_articles`
//! projection index them (and reports how fast), then times full-text
//! retrieval (the three best articles, as the assistant asks) and the
//! embedded responder's answer over them, separately and together.
//!
//! ```text
//! cargo build --release -p bench
//! target/release/assistant --store sqlite --articles 10000 --questions 2000
//! ```

use anyhow::ensure;
use assistant::embedded::Embedded;
use assistant::{Question, Responder, Source};
use bench::{Latency, backend, machine};
use chrono::{TimeZone, Utc};
use clap::Parser;
use domain::ids::{ArticleId, TenantId, UserId};
use domain::knowledge::{Article, ArticleEvent, ArticleWritten};
use projections::Projector;
use projections::knowledge::{self, KnowledgeQuery};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use store::EventLog;
use store::aggregate::{META_COMMAND_ID, META_TENANT};
use store::testing::TestDatabase;
use tokio::sync::mpsc;

#[derive(Parser, Debug)]
#[command(about = "Parley's assistant: retrieval and answers on a large knowledge base")]
struct Args {
    /// sqlite or postgres (a fresh database).
    #[arg(long, default_value = "sqlite")]
    store: String,
    /// Articles in the knowledge base.
    #[arg(long, default_value_t = 10_000)]
    articles: u64,
    /// Questions to time.
    #[arg(long, default_value_t = 2_000)]
    questions: u64,
}

const TENANT: &str = "bench";

/// Words articles and questions are made of: a topic word per article
/// family, the rest shared, so that queries match a few articles well and
/// many a little.
const TOPICS: &[&str] = &[
    "password",
    "invoice",
    "refund",
    "shipping",
    "router",
    "printer",
    "login",
    "account",
    "subscription",
    "delivery",
    "warranty",
    "battery",
    "screen",
    "update",
    "backup",
    "email",
];
const COMMON: &[&str] = &[
    "open", "settings", "choose", "click", "page", "order", "customer", "support", "team", "days",
    "link", "menu", "device", "app", "option", "reset", "check", "status", "contact", "help",
];

/// A deterministic pseudo-random stream (no dependency for a bench).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below
    }

    fn sentence(&mut self, topic: &str) -> String {
        let mut words: Vec<&str> = (0..10).map(|_| COMMON[self.next(COMMON.len())]).collect();
        words.insert(self.next(words.len()), topic);
        let mut s = words.join(" ");
        s.push('.');
        s
    }
}

async fn seed(log: &EventLog, articles: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let tenant = TenantId::parse(TENANT)?;
    let mut rng = Lcg(7);
    let mut seeder = bench::Seeder::default();
    for n in 0..articles {
        let topic = TOPICS[n as usize % TOPICS.len()];
        let body: Vec<String> = (0..8).map(|_| rng.sentence(topic)).collect();
        let id = ArticleId::parse(format!("kb_{n}"))?;
        let event = ArticleEvent::ArticleCreated(ArticleWritten {
            tenant: tenant.clone(),
            article_id: id.clone(),
            version: 1,
            title: format!("{topic} guide {n}"),
            body: body.join(" "),
            category: Some(topic.to_owned()),
            tags: vec![topic.to_owned()],
            by: UserId::parse("seed")?,
            by_name: "Seed".into(),
            at: Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap(),
        });
        let metadata = HashMap::from([
            (META_TENANT.to_owned(), TENANT.to_owned()),
            (META_COMMAND_ID.to_owned(), uuid::Uuid::new_v4().to_string()),
        ]);
        let encoded = store::aggregate::encode::<Article>(&[event], &metadata)?;
        let stream = Article::stream_id(&tenant, &id);
        seeder.append(log, stream, encoded).await?;
    }
    seeder.finish().await?;
    println!(
        "seeded {articles} articles in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("machine: {}", machine());
    println!("{args:?}");
    let db = TestDatabase::new(backend(&args.store)?).await;
    let log = EventLog::connect(db.url()).await?;
    seed(&log, args.articles).await?;

    let started = Instant::now();
    let projector = Projector::start(log.clone(), projections::all()).await?;
    ensure!(
        projector
            .wait_for(knowledge::NAME, log.head(), Duration::from_secs(3600))
            .await,
        "kb_articles did not catch up"
    );
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "indexed {} articles in {seconds:.1} s ({:.0} articles/s through all projections)",
        args.articles,
        args.articles as f64 / seconds
    );

    let tenant = TenantId::parse(TENANT)?;
    let responder = Embedded::new();
    let (mut search, mut answer, mut both) =
        (Latency::default(), Latency::default(), Latency::default());
    let mut rng = Lcg(11);
    let mut answered = 0;
    for _ in 0..args.questions {
        let topic = TOPICS[rng.next(TOPICS.len())];
        let text = format!(
            "How do I {} the {topic} {}?",
            COMMON[rng.next(COMMON.len())],
            COMMON[rng.next(COMMON.len())]
        );
        let t0 = Instant::now();
        let query = KnowledgeQuery {
            text: text.clone(),
            category: None,
            tags: Vec::new(),
            limit: 3,
        };
        let hits = knowledge::search(log.db(), &tenant, &query).await?;
        let t1 = Instant::now();
        let question = Question {
            text,
            history: Vec::new(),
            sources: hits
                .into_iter()
                .map(|h| Source {
                    article_id: h.article.article_id.as_str().to_owned(),
                    version: h.article.version,
                    title: h.article.title,
                    body: h.article.body,
                    score: h.score,
                })
                .collect(),
        };
        let (tokens, mut received) = mpsc::channel(4096);
        let drain = tokio::spawn(async move { while received.recv().await.is_some() {} });
        let reply = responder.respond(&question, tokens).await?;
        drain.await?;
        let t2 = Instant::now();
        answered += usize::from(!reply.no_match);
        search.record(t1 - t0);
        answer.record(t2 - t1);
        both.record(t2 - t0);
    }
    println!(
        "retrieval (3 best of {}): {}",
        args.articles,
        search.summary()
    );
    println!("embedded answer:          {}", answer.summary());
    println!("question to answer:       {}", both.summary());
    println!(
        "answered from the articles: {answered} of {}",
        args.questions
    );
    projector.stop().await;
    Ok(())
}
