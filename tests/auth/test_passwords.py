"""argon2id hashes and the password policy."""

from __future__ import annotations

from fanzha.auth.passwords import PasswordPolicy, Passwords, generate_password

from .builders import cheap_passwords


def test_hash_and_verify() -> None:
    pw = cheap_passwords()
    encoded = pw.hash("Correct-Horse-9")
    assert encoded.startswith("$argon2id$") and "Correct" not in encoded
    assert pw.verify(encoded, "Correct-Horse-9")
    assert not pw.verify(encoded, "correct-horse-9")
    assert not pw.verify(None, "Correct-Horse-9")  # unknown user: same work, still no
    assert not pw.verify("not a hash", "x")
    assert not pw.needs_rehash(encoded)
    assert Passwords(time_cost=2, memory_kib=8, parallelism=1).needs_rehash(encoded)
    assert pw.needs_rehash("garbage")


def test_policy() -> None:
    policy = PasswordPolicy()
    assert policy.problems("Correct-Horse-9") == []
    assert policy.problems("correct horse battery staple") == []  # a long passphrase
    assert policy.problems("short1A!") == ["密码至少 12 位"]
    assert len(policy.problems("alllowercaseletters")) == 1
    assert policy.problems("li.wei-Strong-2024", username="li.wei") == ["密码不能包含用户名"]
    assert "too common" in policy.problems("administrator", lang="en")
    assert policy.problems("A1!" + "x" * 300, lang="en") == ["at most 256 characters"]


def test_generated_passwords_pass_and_differ() -> None:
    made = {generate_password() for _ in range(20)}
    assert len(made) == 20
    assert all(PasswordPolicy().problems(p) == [] for p in made)
