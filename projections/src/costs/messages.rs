//! The message figures of the costs model beside `messages_daily`: messages per tenant, channel
//! and direction over all time (`messages_totals`), and what providers reported messages cost —
//! per tenant, UTC day of the report, channel and currency (`message_prices_daily`, currency `''`
//! when the report carries none) and over all time (`message_prices_totals`): priced messages,
//! billable ones (`billable` reported true) and the amount in exact micro-units of the currency.
//! A provider prices an outbound message at most once, so each priced event counts one message.
//! Reads sum a few rows per channel and day (a range) or per channel (all time).

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::NaiveDate;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::fold::State;

/// The DDL of the tables in `schema`.
pub fn ddl(schema: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {schema}.messages_totals (
            tenant_id uuid NOT NULL,
            channel text NOT NULL,
            direction text NOT NULL,
            messages bigint NOT NULL,
            PRIMARY KEY (tenant_id, channel, direction)
        );
        CREATE TABLE IF NOT EXISTS {schema}.message_prices_daily (
            tenant_id uuid NOT NULL,
            day date NOT NULL,
            channel text NOT NULL,
            currency text NOT NULL,
            priced bigint NOT NULL,
            billable bigint NOT NULL,
            amount_micros bigint NOT NULL,
            PRIMARY KEY (tenant_id, day, channel, currency)
        );
        CREATE TABLE IF NOT EXISTS {schema}.message_prices_totals (
            tenant_id uuid NOT NULL,
            channel text NOT NULL,
            currency text NOT NULL,
            priced bigint NOT NULL,
            billable bigint NOT NULL,
            amount_micros bigint NOT NULL,
            PRIMARY KEY (tenant_id, channel, currency)
        )"
    )
}

/// Adds the batch's messages and prices to the tables.
pub async fn write(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    write_totals(tx, schema, state).await?;
    if state.prices.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = state.prices.keys().map(|k| k.0).collect();
    let days: Vec<NaiveDate> = state.prices.keys().map(|k| k.1).collect();
    let channels: Vec<&str> = state.prices.keys().map(|k| k.2).collect();
    let currencies: Vec<&str> = state.prices.keys().map(|k| k.3.as_str()).collect();
    let priced: Vec<i64> = state.prices.values().map(|p| p.priced).collect();
    let billable: Vec<i64> = state.prices.values().map(|p| p.billable).collect();
    let amounts: Vec<i64> = state.prices.values().map(|p| p.amount_micros).collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.message_prices_daily \
           (tenant_id, day, channel, currency, priced, billable, amount_micros) \
         SELECT * FROM UNNEST($1::uuid[], $2::date[], $3::text[], $4::text[], $5::int8[], \
                              $6::int8[], $7::int8[]) \
         ON CONFLICT (tenant_id, day, channel, currency) DO UPDATE SET \
           priced = message_prices_daily.priced + EXCLUDED.priced, \
           billable = message_prices_daily.billable + EXCLUDED.billable, \
           amount_micros = message_prices_daily.amount_micros + EXCLUDED.amount_micros"
    ))
    .bind(&tenants)
    .bind(&days)
    .bind(&channels)
    .bind(&currencies)
    .bind(&priced)
    .bind(&billable)
    .bind(&amounts)
    .execute(&mut *tx)
    .await
    .context("Failed to add message prices")?;
    sqlx::query(&format!(
        "INSERT INTO {schema}.message_prices_totals \
           (tenant_id, channel, currency, priced, billable, amount_micros) \
         SELECT tenant_id, channel, currency, SUM(priced), SUM(billable), SUM(amount_micros) \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[]) \
           AS p(tenant_id, channel, currency, priced, billable, amount_micros) \
         GROUP BY 1, 2, 3 \
         ON CONFLICT (tenant_id, channel, currency) DO UPDATE SET \
           priced = message_prices_totals.priced + EXCLUDED.priced, \
           billable = message_prices_totals.billable + EXCLUDED.billable, \
           amount_micros = message_prices_totals.amount_micros + EXCLUDED.amount_micros"
    ))
    .bind(&tenants)
    .bind(&channels)
    .bind(&currencies)
    .bind(&priced)
    .bind(&billable)
    .bind(&amounts)
    .execute(&mut *tx)
    .await
    .context("Failed to add all-time message prices")?;
    Ok(())
}

async fn write_totals(tx: &mut PgConnection, schema: &str, state: &State) -> anyhow::Result<()> {
    if state.messages.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = state.messages.keys().map(|k| k.0).collect();
    let channels: Vec<&str> = state.messages.keys().map(|k| k.2).collect();
    let directions: Vec<&str> = state.messages.keys().map(|k| k.3).collect();
    let counts: Vec<i64> = state.messages.values().copied().collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.messages_totals (tenant_id, channel, direction, messages) \
         SELECT tenant_id, channel, direction, SUM(messages) \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int8[]) \
           AS m(tenant_id, channel, direction, messages) \
         GROUP BY 1, 2, 3 \
         ON CONFLICT (tenant_id, channel, direction) DO UPDATE SET \
           messages = messages_totals.messages + EXCLUDED.messages"
    ))
    .bind(&tenants)
    .bind(&channels)
    .bind(&directions)
    .bind(&counts)
    .execute(&mut *tx)
    .await
    .context("Failed to add all-time message counts")?;
    Ok(())
}

/// What providers reported for a channel's messages in one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PriceSums {
    /// Messages priced.
    pub priced: i64,
    /// Messages reported billable.
    pub billable: i64,
    /// The amounts, in micro-units of the currency.
    pub amount_micros: i64,
}

/// One channel's messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelMessages {
    /// `sms` or `whatsapp`.
    pub channel: String,
    /// Messages received from leads.
    pub received: i64,
    /// Messages sent to leads.
    pub sent: i64,
    /// Prices per currency (`""`: reports without an amount).
    pub prices: BTreeMap<String, PriceSums>,
}

/// The tenant's messages per channel from `from` to `to` (UTC days, both included), by channel.
pub async fn in_range(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Vec<ChannelMessages>> {
    let counts: Vec<(String, String, i64)> = sqlx::query_as(&format!(
        "SELECT channel, direction, SUM(messages)::int8 FROM {schema}.messages_daily \
         WHERE tenant_id = $1 AND day BETWEEN $2 AND $3 GROUP BY 1, 2"
    ))
    .bind(tenant)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .context("Failed to sum the messages")?;
    let prices: Vec<PriceRow> = sqlx::query_as(&format!(
        "SELECT channel, currency, SUM(priced)::int8, SUM(billable)::int8, \
                SUM(amount_micros)::int8 \
         FROM {schema}.message_prices_daily \
         WHERE tenant_id = $1 AND day BETWEEN $2 AND $3 GROUP BY 1, 2"
    ))
    .bind(tenant)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .context("Failed to sum the message prices")?;
    Ok(combine(counts, prices))
}

/// The tenant's messages per channel over all time, by channel.
pub async fn all_time(
    pool: &PgPool,
    schema: &str,
    tenant: Uuid,
) -> anyhow::Result<Vec<ChannelMessages>> {
    let counts: Vec<(String, String, i64)> = sqlx::query_as(&format!(
        "SELECT channel, direction, messages FROM {schema}.messages_totals WHERE tenant_id = $1"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("Failed to read the all-time message counts")?;
    let prices: Vec<PriceRow> = sqlx::query_as(&format!(
        "SELECT channel, currency, priced, billable, amount_micros \
         FROM {schema}.message_prices_totals WHERE tenant_id = $1"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("Failed to read the all-time message prices")?;
    Ok(combine(counts, prices))
}

type PriceRow = (String, String, i64, i64, i64);

fn combine(counts: Vec<(String, String, i64)>, prices: Vec<PriceRow>) -> Vec<ChannelMessages> {
    let mut channels: BTreeMap<String, ChannelMessages> = BTreeMap::new();
    for (name, direction, count) in counts {
        let messages = channel(&mut channels, &name);
        if direction == "inbound" {
            messages.received += count;
        } else {
            messages.sent += count;
        }
    }
    for (name, currency, priced, billable, amount_micros) in prices {
        let sums = channel(&mut channels, &name)
            .prices
            .entry(currency)
            .or_default();
        sums.priced += priced;
        sums.billable += billable;
        sums.amount_micros += amount_micros;
    }
    channels.into_values().collect()
}

fn channel<'a>(
    channels: &'a mut BTreeMap<String, ChannelMessages>,
    name: &str,
) -> &'a mut ChannelMessages {
    channels
        .entry(name.to_owned())
        .or_insert_with(|| ChannelMessages {
            channel: name.to_owned(),
            ..ChannelMessages::default()
        })
}
