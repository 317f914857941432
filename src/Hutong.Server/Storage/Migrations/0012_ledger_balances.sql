-- Each ledger account's balance, kept by the ledger's append in the transaction that posts the lines, so a posting
-- that would take a balance past Money.MaxBalance (10^17 minor units, either sign) is refused before it commits and
-- every account's lines always sum within a 64-bit integer. Derived data: `hutong ledger verify` re-sums the lines
-- and reports any balance that disagrees.
CREATE TABLE ledger_balances (
    account  TEXT NOT NULL,
    currency TEXT NOT NULL,
    balance  BIGINT NOT NULL,
    PRIMARY KEY (account, currency)
);
INSERT INTO ledger_balances (account, currency, balance)
SELECT account, currency, SUM(amount) FROM ledger_lines GROUP BY account, currency;
