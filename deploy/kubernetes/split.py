"""Splits a multi-document YAML stream (kustomize's output) into one file per object,
named KIND-NAME.yaml, so that a validation failure names the object. Plain text
splitting on document separators: kustomize writes `---` on lines of their own."""

import pathlib
import re
import sys

source, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
target.mkdir(parents=True, exist_ok=True)
documents = [d for d in re.split(r"^---\s*$", source.read_text(), flags=re.M) if d.strip()]
for number, document in enumerate(documents):
    kind = re.search(r"^kind:\s*(\S+)", document, flags=re.M)
    name = re.search(r"^  name:\s*(\S+)", document, flags=re.M)
    label = f"{kind.group(1) if kind else 'object'}-{name.group(1) if name else number}"
    (target / f"{number:02d}-{label}.yaml").write_text(document.lstrip("\n"))
