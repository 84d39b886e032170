//! Message figures in analytics bodies: per channel, messages received and sent, and what
//! providers reported outbound messages cost, per currency, in exact micro-units and as decimal
//! strings made from them (never through a float, never adding two currencies).

use poem_openapi::Object;
use projections::costs::messages::ChannelMessages;

use super::micros_to_decimal;

/// What providers reported messages cost in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "MessageAmount")]
pub struct MessageAmountDto {
    /// ISO 4217 code (`USD`).
    pub currency: String,
    /// The sum in micro-units of the currency, exact.
    pub amount_micros: i64,
    /// The sum as a decimal string with six places, from `amount_micros`.
    pub amount: String,
}

/// One channel's messages and their prices.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "ChannelMessages")]
pub struct ChannelMessagesDto {
    /// `sms` or `whatsapp`.
    pub channel: String,
    /// Messages received from leads.
    pub received: i64,
    /// Messages sent to leads (accepted by the provider).
    pub sent: i64,
    /// Outbound messages a provider reported a price or billing for (each once).
    pub priced: i64,
    /// Of those, the messages the provider reported billable (WhatsApp `pricing.billable`).
    pub billable: i64,
    /// The reported amounts per currency (reports without an amount, such as WhatsApp's, count
    /// in `priced` only), by currency.
    pub amounts: Vec<MessageAmountDto>,
}

impl From<ChannelMessages> for ChannelMessagesDto {
    fn from(messages: ChannelMessages) -> Self {
        let priced = messages.prices.values().map(|p| p.priced).sum();
        let billable = messages.prices.values().map(|p| p.billable).sum();
        let amounts = messages
            .prices
            .into_iter()
            .filter(|(currency, _)| !currency.is_empty())
            .map(|(currency, sums)| MessageAmountDto {
                currency,
                amount_micros: sums.amount_micros,
                amount: micros_to_decimal(sums.amount_micros),
            })
            .collect();
        Self {
            channel: messages.channel,
            received: messages.received,
            sent: messages.sent,
            priced,
            billable,
            amounts,
        }
    }
}
