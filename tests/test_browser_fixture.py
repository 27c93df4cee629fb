def test_browser_renders_a_page(page):
    page.set_content("<button onclick=\"this.textContent='clicked'\">click me</button>")
    page.click("button")
    assert page.inner_text("button") == "clicked"
