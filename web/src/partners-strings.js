// The German and English texts of partner cities' layers in the viewer (partners.js), added to the
// viewer's. A module of its own, free of the page, so the tests can read every text (tests/web/test_i18n.py).

import { addStrings } from './i18n.js';

addStrings({
  en: {
    partnerSource: 'Data: {attribution} · Licence: {licence}',
    partnerUnreachable: 'The partner’s layers cannot be read now: {message}',
    partnerFeatures: { one: '{n} feature', other: '{n} features' },
    partnerAsOf: 'As of {time}; refreshed every {s} s while shown',
    partnerFeature: 'Partner’s feature',
    partnerLayerFailed: 'Could not load the partner’s layer {title}: {message}',
    partnerMirrored: 'Its sensors are mirrored into this platform and shown among the sensors, with new values at each synchronisation; last synchronised {time}.',
    partnerNotMirrored: 'Its sensors are shown among the sensors once they are mirrored; nothing is mirrored yet.',
    partnerFollowed: 'Its sensors are mirrored into this platform and followed live: a new value shows among the sensors as soon as the partner publishes it; last received {time}.',
    partnerFailing: 'The partner could not be reached at the last attempt ({time}): {message}',
  },
  de: {
    partnerSource: 'Daten: {attribution} · Lizenz: {licence}',
    partnerUnreachable: 'Die Ebenen des Partners sind gerade nicht lesbar: {message}',
    partnerFeatures: { one: '{n} Objekt', other: '{n} Objekte' },
    partnerAsOf: 'Stand {time}; alle {s} s erneuert, solange sichtbar',
    partnerFeature: 'Objekt des Partners',
    partnerLayerFailed: 'Die Ebene {title} des Partners ließ sich nicht laden: {message}',
    partnerMirrored: 'Seine Sensoren werden in diese Plattform gespiegelt und bei den Sensoren gezeigt, mit neuen Werten bei jedem Abgleich; zuletzt abgeglichen {time}.',
    partnerNotMirrored: 'Seine Sensoren erscheinen bei den Sensoren, sobald sie gespiegelt sind; noch ist nichts gespiegelt.',
    partnerFollowed: 'Seine Sensoren werden in diese Plattform gespiegelt und live verfolgt: ein neuer Wert erscheint bei den Sensoren, sobald der Partner ihn veröffentlicht; zuletzt empfangen {time}.',
    partnerFailing: 'Der Partner war beim letzten Versuch ({time}) nicht erreichbar: {message}',
  },
});
