"""Running a candidate: client, load generation, tokenizers, evidence."""
