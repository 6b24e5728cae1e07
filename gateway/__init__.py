"""The Sluice gateway: layered rooms, each importing only the ones below it
(``cli`` > ``web`` > ``wiring`` > ``stewardship`` > ``enforcement`` > ``auth`` > ``core``);
``docs/architecture.md`` draws them and ``tests/test_layers.py`` holds them."""
