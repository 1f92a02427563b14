#!/usr/bin/env python3
"""A seeded random workload for the chaos scenario: several tables, multi-statement
transactions, rollbacks and primary-key changes, written as SQL to stdout (pipe it into
`mariadb`). The same seed gives the same statements.

    workload.py SEED TRANSACTIONS [--sleep-every N]
"""
import random
import sys

seed, count = int(sys.argv[1]), int(sys.argv[2])
sleep_every = int(sys.argv[sys.argv.index("--sleep-every") + 1]) if "--sleep-every" in sys.argv else 0
rng = random.Random(seed)
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau".split()


def text(n):
    return " ".join(rng.choice(WORDS) for _ in range(n)).replace("'", "")


def statement():
    table = rng.choice(["accounts", "orders", "notes"])
    kind = rng.random()
    if table == "accounts":
        i = rng.randint(1, 400)
        if kind < 0.45:
            return f"INSERT INTO chaos.accounts VALUES ({i}, '{text(2)}', {rng.randint(-1000, 1000)}, NOW(6)) ON DUPLICATE KEY UPDATE balance = balance + {rng.randint(-50, 50)}, seen = NOW(6);"
        if kind < 0.75:
            return f"UPDATE chaos.accounts SET name = '{text(3)}', balance = balance - {rng.randint(1, 9)} WHERE id = {i};"
        if kind < 0.9:
            # A primary-key change (the old key must disappear from the stores).
            j = rng.randint(401, 800)
            return f"UPDATE IGNORE chaos.accounts SET id = {j} WHERE id = {i};"
        return f"DELETE FROM chaos.accounts WHERE id = {i};"
    if table == "orders":
        shop, i = rng.randint(1, 3), rng.randint(1, 300)
        if kind < 0.6:
            return f"REPLACE INTO chaos.orders VALUES ({shop}, {i}, {rng.randint(1, 99999) / 100:.2f}, '{text(2)}');"
        if kind < 0.85:
            return f"UPDATE chaos.orders SET total = total + 1.25 WHERE shop = {shop} AND id BETWEEN {i} AND {i + 5};"
        return f"DELETE FROM chaos.orders WHERE shop = {shop} AND id = {i};"
    i = rng.randint(1, 200)
    if kind < 0.7:
        return f"INSERT INTO chaos.notes VALUES ({i}, '{text(rng.randint(3, 12))}') ON DUPLICATE KEY UPDATE body = VALUES(body);"
    return f"DELETE FROM chaos.notes WHERE id = {i};"


out = []
for n in range(count):
    size = rng.randint(1, 6)
    rollback = rng.random() < 0.1
    out.append("START TRANSACTION;")
    out.extend(statement() for _ in range(size))
    out.append("ROLLBACK;" if rollback else "COMMIT;")
    if sleep_every and n % sleep_every == 0:
        out.append("DO SLEEP(0.02);")
print("\n".join(out))
