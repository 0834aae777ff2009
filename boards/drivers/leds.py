# The alarm light. Leds: discrete LEDs, one pin per colour (indexed by the
# firmware's colour code, patterns.OFF/GREEN/YELLOW/RED = 0..3; index 0 has
# no pin). Pixel: one WS2812 pixel (neopixel.NeoPixel) with an (r, g, b)
# per colour code. show(code) only touches the hardware on a change.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from machine import Pin
    from neopixel import NeoPixel


class _Light:
    colour = -1

    def show(self, colour: int) -> None:
        if colour == self.colour:
            return
        self.colour = colour
        self._set(colour)

    def _set(self, colour: int) -> None:
        raise NotImplementedError


class Leds(_Light):
    def __init__(self, pins: "tuple[Pin | None, ...]") -> None:
        self.pins = pins
        self.show(0)

    def _set(self, colour: int) -> None:
        i = 0
        for p in self.pins:
            if p is not None:
                p.value(1 if i == colour else 0)
            i += 1


class Pixel(_Light):
    def __init__(self, np: "NeoPixel", rgb: "tuple[tuple[int, int, int], ...]") -> None:
        self.np = np
        self.rgb = rgb
        self.show(0)

    def _set(self, colour: int) -> None:
        self.np[0] = self.rgb[colour]
        self.np.write()
