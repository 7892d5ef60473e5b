//! The assistant as a policy: every customer message of a conversation in
//! AI handling (status `ai`) is answered, off the gateway's hot path.
//!
//! For each such message the runner retrieves the tenant's best articles,
//! asks the [`Responder`], streams its tokens through [`Replies`](super::Replies)
//! to the dialects that take streams, and records the finished answer as a
//! message by the assistant with its [`Provenance`]. A timeout or a
//! provider error records a notice instead, which tells the customer and
//! offers a human.
//!
//! - One answer at a time per conversation: a second question waits for
//!   the first answer (and is then answered only if the conversation is
//!   still in AI handling: an agent may have taken over meanwhile).
//! - The answer's id is derived from the question's id, and so is the
//!   command id: a retry, or a second node answering the same question,
//!   records it once.
//! - Questions seen while this node was down, or lost to a lagging feed,
//!   are not answered; the customer can ask again or ask for a human.

use assistant::{Answer, AssistantError, Question, Responder, Source, Turn};
use domain::Room;
use domain::actor::{Actor, Role};
use domain::conversation::{
    ASSISTANT_USER, Action, Kind, MessageKind, NewMessage, Provenance, ReplyOutcome, SourceRef,
    Status,
};
use domain::ids::{MessageId, TenantId, UserId};
use domain::message::MessageBody;
use projections::conversation_messages::{self as messages, Cursor, MessageView, Visibility};
use projections::update::Change;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::ReplyKey;
use crate::commands::Origin;
use crate::error::WireError;
use crate::state::AppState;

/// The dialect name recorded in the metadata of the assistant's commands.
const DIALECT: &str = "assistant";
/// Articles retrieved per question.
const SOURCES: u32 = 3;
/// Earlier messages given to the responder as context.
const HISTORY: u32 = 10;
/// Answers being written at once on this node; more questions wait.
const CONCURRENT_ANSWERS: usize = 32;
/// What the customer is told when no answer could be written.
const FAILED: &str = "Sorry, I could not answer that just now. \
                      Would you like me to connect you with a human agent?";
/// Conversations remembered as never answered by the assistant.
const REMEMBERED: u64 = 100_000;
/// Namespace of answer ids (UUID v5 of the question's id).
const ANSWER_NAMESPACE: Uuid = Uuid::from_u128(0x5c1b_0e0a_7a55_4f57_9a9d_2f3c_11e0_a5e1);

/// The runner's handle: stop it at shutdown.
pub struct AssistantRunner {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl AssistantRunner {
    pub fn start(state: AppState) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = state
            .assistant
            .responder
            .is_some()
            .then(|| tokio::spawn(listen(state, stopped)));
        Self { stop, task }
    }

    /// Stop listening; answers being written are abandoned (their streams
    /// told so), which shutdown's wait for commands in flight covers.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task
            && let Err(error) = task.await
        {
            tracing::error!(%error, "assistant runner failed");
        }
    }
}

async fn listen(state: AppState, mut stopped: watch::Receiver<bool>) {
    let mut updates = state.projector.subscribe();
    let limit = Arc::new(Semaphore::new(CONCURRENT_ANSWERS));
    let turns = Turns::default();
    // Only conversations opened with a chatbot ever reach AI handling, and
    // that never changes: the others are remembered and skipped, so plain
    // chats cost the assistant no read.
    let never: moka::sync::Cache<ReplyKey, ()> = moka::sync::Cache::new(REMEMBERED);
    let mut answers = JoinSet::new();
    loop {
        let update = tokio::select! {
            update = updates.recv() => update,
            _ = stopped.changed() => break,
            Some(_) = answers.join_next(), if !answers.is_empty() => continue,
        };
        match update {
            Ok(update) => {
                let Change::MessagePosted(question) = &update.change else {
                    continue;
                };
                if !is_question(question) {
                    continue;
                }
                let question = question.clone();
                let key = ReplyKey {
                    tenant: question.room.tenant.clone(),
                    conversation: question.room.id.clone(),
                };
                if never.contains_key(&key) {
                    continue;
                }
                let (state, limit, turns, never) =
                    (state.clone(), limit.clone(), turns.clone(), never.clone());
                answers.spawn(async move {
                    let Ok(_permit) = limit.acquire_owned().await else {
                        return;
                    };
                    let turn = turns.of(&key);
                    let _mine = turn.lock().await;
                    if let Err(error) = answer(&state, &key, &question, &never).await {
                        tracing::warn!(conversation = %key.conversation, code = %error.code, message = %error.message, "the assistant could not answer");
                    }
                    turns.release(&key);
                });
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "the assistant fell behind the projections; some questions go unanswered"
                );
            }
            Err(RecvError::Closed) => break,
        }
    }
    answers.abort_all();
    while answers.join_next().await.is_some() {}
}

/// A customer's visible text message in a conversation (not a channel).
fn is_question(message: &MessageView) -> bool {
    message.room.kind == Kind::Conversation
        && message.author_role == Role::Customer
        && message.content_type == MessageKind::Text.as_str()
        && !message.hidden
}

/// One lock per conversation being answered: questions are answered in
/// turn.
#[derive(Clone, Default)]
struct Turns(Arc<Mutex<HashMap<ReplyKey, Arc<tokio::sync::Mutex<()>>>>>);

impl Turns {
    fn of(&self, key: &ReplyKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self.0.lock().unwrap_or_else(|p| p.into_inner());
        turns.entry(key.clone()).or_default().clone()
    }

    /// Forget the lock once nobody else waits for it.
    fn release(&self, key: &ReplyKey) {
        let mut turns = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if turns
            .get(key)
            .is_some_and(|lock| Arc::strong_count(lock) <= 2)
        {
            turns.remove(key);
        }
    }
}

/// The assistant's identity in `tenant`.
pub fn assistant_actor(tenant: &TenantId) -> Actor {
    Actor {
        user: UserId::parse(ASSISTANT_USER).expect("a valid user id"),
        tenant: tenant.clone(),
        role: Role::Service,
        name: Some("Assistant".into()),
    }
}

/// The id of the answer to `question`: the same on every node and retry.
pub fn answer_id(question: &MessageId) -> MessageId {
    let id = Uuid::new_v5(&ANSWER_NAMESPACE, question.as_str().as_bytes());
    MessageId::parse(format!("ai-{}", id.simple())).expect("a valid message id")
}

async fn answer(
    state: &AppState,
    key: &ReplyKey,
    question: &MessageView,
    never: &moka::sync::Cache<ReplyKey, ()>,
) -> Result<(), WireError> {
    let Some(responder) = state.assistant.responder.clone() else {
        return Ok(());
    };
    // The question's own events (the first one also moves the conversation
    // into AI handling) must be in the support read model.
    let support = projections::support::NAME;
    let timeout = state.config.read_your_writes_timeout();
    let caught_up = state
        .projector
        .wait_for(support, question.position, timeout)
        .await;
    if !caught_up {
        tracing::warn!(conversation = %key.conversation, "support read model behind; answering on what it shows");
    }
    let db = state.log.db();
    let view = projections::support::get(db, &key.tenant, &key.conversation).await?;
    // Any support conversation, however its customer signed in (a widget
    // key or a token): its status says whether the assistant handles it.
    let Some(view) = view else {
        if caught_up {
            never.insert(key.clone(), ());
        }
        return Ok(());
    };
    if view.status != Status::Ai {
        return Ok(());
    }
    let reply_id = answer_id(&question.message_id);
    if messages::find(db, &question.room, Visibility::Staff, &reply_id)
        .await?
        .is_some()
    {
        // Answered already (another node, or before a restart).
        return Ok(());
    }

    let sources = retrieve(state, &key.tenant, &question.content).await?;
    let history = history(state, &question.room, &question.message_id).await?;
    let asked = Question {
        text: question.content.clone(),
        history,
        sources,
    };

    if !state.assistant.replies.start(key, &reply_id) {
        return Ok(());
    }
    let outcome = write(state, key, responder.as_ref(), &asked).await;
    let (body, provenance) = match outcome {
        Ok(answer) => {
            let sources = answer
                .cited
                .iter()
                .filter_map(|i| asked.sources.get(*i))
                .map(|s| SourceRef {
                    article_id: s.article_id.clone(),
                    version: s.version,
                    title: s.title.clone(),
                })
                .collect();
            let provenance = Provenance {
                in_reply_to: question.message_id.clone(),
                outcome: if answer.no_match {
                    ReplyOutcome::NoMatch
                } else {
                    ReplyOutcome::Answered
                },
                sources,
                provider: responder.provider().to_owned(),
                model: responder.model().map(str::to_owned),
                handoff_offered: answer.no_match,
                close_suggested: answer.close_suggested,
            };
            (answer.text, provenance)
        }
        Err(error) => {
            tracing::warn!(conversation = %key.conversation, %error, "assistant failed; telling the customer");
            // The stream shows the failure; the notice follows as a message.
            state.assistant.replies.fail(key);
            let provenance = Provenance {
                in_reply_to: question.message_id.clone(),
                outcome: ReplyOutcome::Failed,
                sources: Vec::new(),
                provider: responder.provider().to_owned(),
                model: responder.model().map(str::to_owned),
                handoff_offered: true,
                close_suggested: false,
            };
            (FAILED.to_owned(), provenance)
        }
    };
    let recorded = record(state, key, &reply_id, &body, provenance).await;
    match &recorded {
        Ok(()) => {
            // A client told the answer is done finds it in the history.
            state.read_your_writes(messages::NAME).await;
            state.assistant.replies.finish(key);
        }
        Err(_) => state.assistant.replies.fail(key),
    }
    recorded
}

/// Run the responder within the timeout, passing its tokens on as they come.
async fn write(
    state: &AppState,
    key: &ReplyKey,
    responder: &dyn Responder,
    question: &Question,
) -> Result<Answer, AssistantError> {
    let (tokens, mut received) = mpsc::channel::<String>(64);
    let forward = async {
        while let Some(token) = received.recv().await {
            state.assistant.replies.token(key, &token);
        }
    };
    let respond = responder.respond(question, tokens);
    let timeout = state.assistant.timeout;
    let both = async { tokio::join!(respond, forward).0 };
    match tokio::time::timeout(timeout, both).await {
        Ok(answer) => answer,
        Err(_) => Err(AssistantError::Provider(format!(
            "no complete answer within {} s",
            timeout.as_secs()
        ))),
    }
}

/// The tenant's best articles for `text`, as the responder takes them.
pub async fn retrieve(
    state: &AppState,
    tenant: &TenantId,
    text: &str,
) -> Result<Vec<Source>, WireError> {
    let query = projections::knowledge::KnowledgeQuery {
        text: text.to_owned(),
        category: None,
        tags: Vec::new(),
        limit: SOURCES,
    };
    let hits = projections::knowledge::search(state.log.db(), tenant, &query).await?;
    Ok(hits
        .into_iter()
        .map(|hit| Source {
            article_id: hit.article.article_id.as_str().to_owned(),
            version: hit.article.version,
            title: hit.article.title,
            body: hit.article.body,
            score: hit.score,
        })
        .collect())
}

/// The messages before `question`, oldest first, as the customer saw them.
async fn history(
    state: &AppState,
    room: &Room,
    question: &MessageId,
) -> Result<Vec<Turn>, WireError> {
    let page = messages::page(
        state.log.db(),
        room,
        Visibility::Everyone,
        &Cursor::Latest,
        HISTORY + 1,
    )
    .await?;
    Ok(page
        .messages
        .into_iter()
        .filter(|m| m.message_id != *question && m.deleted.is_none())
        .map(|m| Turn {
            from_customer: m.author_role == Role::Customer,
            text: m.content,
        })
        .collect())
}

async fn record(
    state: &AppState,
    key: &ReplyKey,
    reply_id: &MessageId,
    text: &str,
    provenance: Provenance,
) -> Result<(), WireError> {
    let body = MessageBody::parse(clip(text, MessageBody::MAX_CHARS))
        .or_else(|_| MessageBody::parse(FAILED))
        .map_err(WireError::from)?;
    let actor = assistant_actor(&key.tenant);
    let origin = Origin {
        actor: &actor,
        dialect: DIALECT,
        socket_id: None,
    };
    let command_id = Uuid::new_v5(&ANSWER_NAMESPACE, reply_id.as_str().as_bytes());
    let message = NewMessage {
        provenance: Some(provenance),
        ..NewMessage::text(reply_id.clone(), body)
    };
    let room = Room::new(
        key.tenant.clone(),
        Kind::Conversation,
        key.conversation.clone(),
    );
    let action = Action::PostMessage(message);
    state
        .commands
        .on_conversation(&origin, "assistant:answer", &room, action, Some(command_id))
        .await
        .map(drop)
}

/// At most `max` characters of `text`.
fn clip(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}
