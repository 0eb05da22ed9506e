"""Reading console pages in tests: the block of one form field, and text without markup."""

from html.parser import HTMLParser


class _FieldBlock(HTMLParser):
    def __init__(self, name: str):
        super().__init__(convert_charrefs=True)
        self.name = name
        self.depth = 0
        self.parts: list[str] = []
        self.found = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.depth:
            if tag == "div":
                self.depth += 1
            self.parts.append(self.get_starttag_text() or "")
        elif tag == "div" and attrs.get("data-field") == self.name and not self.found:
            self.found = True
            self.depth = 1
            self.parts.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag):
        if self.depth:
            self.parts.append(f"</{tag}>")
            if tag == "div":
                self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def field_block(html: str, name: str) -> str:
    """The HTML of the ``<div data-field="name">`` wrapping one form field, its errors and help."""
    parser = _FieldBlock(name)
    parser.feed(html)
    if not parser.found:
        raise AssertionError(f"no field {name!r} on the page")
    return "".join(parser.parts)


def field_errors(html: str, name: str) -> list[str]:
    """The error messages shown inside one field's block."""
    block = field_block(html, name)
    if 'class="field-errors"' not in block:
        return []
    errors = block.split('class="field-errors"', 1)[1].split("</ul>", 1)[0]
    return [item.split("</li>", 1)[0].strip() for item in errors.split("<li>")[1:]]
